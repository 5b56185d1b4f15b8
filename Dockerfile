# Image for the API and the consumers, used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY ledger ledger
COPY projections projections
COPY consumers consumers
COPY schemas schemas
COPY sgl sgl
RUN pip install --no-cache-dir -c constraints.txt .
ENV SGL_DATA_DIR=/data SGL_LOG_FORMAT=json
ENTRYPOINT ["sgl"]
