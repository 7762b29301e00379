# A slim image whose entry point is cpsim: `docker run --rm IMAGE demo`,
# or `docker run --rm --device /dev/ttyUSB2 IMAGE run --modem ec200u ...`.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY chargepoint ./chargepoint
COPY modem ./modem
RUN pip install --no-cache-dir . && rm -rf /src
WORKDIR /work
ENTRYPOINT ["cpsim"]
CMD ["demo"]
