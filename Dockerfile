# syntax=docker/dockerfile:1
# The base image is pinned by digest, so two builds a month apart start from the same bytes:
# python:3.11-slim (Debian trixie), its multi-arch index digest as published in August 2026.
# Moving it is a deliberate change: `docker buildx imagetools inspect python:3.11-slim`
# prints the current digest; put it in both FROM lines.

# Build stage: infochat and its PostgreSQL driver in a venv, versions from the lock file.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
# Dependencies first, in a layer of their own: a code change does not reinstall them.
# requirements/runtime.txt is the lock (`.ci/lock` refreshes it).
COPY requirements/runtime.txt requirements/runtime.txt
RUN /opt/venv/bin/pip install -r requirements/runtime.txt
# Then infochat itself; the constraints keep every dependency at its locked version.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY migrations ./migrations
RUN /opt/venv/bin/pip install -c requirements/runtime.txt '.[postgres]'

# Runtime stage: the venv only, run as an unprivileged user.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7
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
