# syntax=docker/dockerfile:1
# Build stage: install infochat and its PostgreSQL driver into a venv.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY migrations ./migrations
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install '.[postgres]'

# Runtime stage: the venv only, run as an unprivileged user.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin infochat \
 && mkdir /data && chown infochat:infochat /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    INFOCHAT_DATABASE_URL=sqlite:////data/infochat.db \
    INFOCHAT_PORT=3000
USER infochat
WORKDIR /data
VOLUME ["/data"]
EXPOSE 3000
# `infochat health` GETs /healthz on INFOCHAT_PORT and exits non-zero unless it answers 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["infochat", "health"]
ENTRYPOINT ["infochat"]
CMD ["serve"]
