"""The execution API, one module per resource; execution/urls.py routes them."""
