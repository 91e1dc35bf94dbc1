"""The execution API, one module per resource; execution/api_urls.py routes them."""
