# Front-end assets: Tailwind CSS and vendored npm libraries, built once, copied into the app image.
FROM node:20-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# Tailwind scans the templates and code of every app for class names.
COPY . .
RUN npm run build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var
WORKDIR /app
# bubblewrap isolates custom_code steps and agents' code; without it they do not run (see agents/sandbox/).
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt constraints.txt ./
RUN pip install -r requirements.txt -c constraints.txt
COPY . .
COPY --from=assets /app/tradingweb/static/build ./tradingweb/static/build
RUN python manage.py collectstatic --noinput --verbosity 0 \
    && useradd --create-home --uid 1000 tradingweb \
    && mkdir -p /app/var /run/sandbox \
    && chown -R tradingweb /app/var /run/sandbox
USER tradingweb
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "tradingweb.asgi:application"]
