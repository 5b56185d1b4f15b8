# The ledger's image: the wheel is built in one stage and installed in the next, so the image
# holds the installed package (policies and schemas as package data), not the source tree.
# `docker compose up` runs it as `sgl serve` (see docker-compose.yml).
FROM python:3.11.14-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY clients/python clients/python
COPY ledger ledger
COPY projections projections
COPY consumers consumers
COPY sgl sgl
COPY schemas schemas
COPY policies policies
# The server's wheel carries the client's package (from clients/python).
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11.14-slim-bookworm
COPY --from=build /wheels /wheels
COPY constraints.txt /tmp/constraints.txt
# The wheel by its path, never the name from an index; its dependencies pinned.
RUN pip install --no-cache-dir -c /tmp/constraints.txt /wheels/safeguarding_ledger-*.whl \
    && rm -rf /wheels /tmp/constraints.txt \
    && useradd --system --uid 10001 --home-dir /data sgl \
    && mkdir -m 0700 /data && chown sgl /data
USER sgl
WORKDIR /data
ENV SGL_DATA_DIR=/data SGL_LOG_FORMAT=json SGL_HTTP_HOST=0.0.0.0
EXPOSE 8000
ENTRYPOINT ["sgl"]
CMD ["serve"]
