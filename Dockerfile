# cpsim in a container; the entry point is cpsim (README "Container").
#   docker build -t cpsim .            (or: podman build -t cpsim .)
#   docker run --rm cpsim demo
#   docker run --rm -p 9000:9000 cpsim csms --host 0.0.0.0
#   docker run --rm -v cpsim-state:/state --device /dev/ttyUSB2 cpsim run --id CP001 \
#       --url ws://csms.example.com/ocpp --modem ec200u --port /dev/ttyUSB2 --apn internet
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY chargepoint ./chargepoint
COPY modem ./modem
RUN pip install --no-cache-dir . && rm -rf /src

# Not root: a simulator needs no privilege.  The dialout group may open a modem's
# serial port passed in with --device (on hosts where the device's group is dialout).
RUN useradd --create-home --uid 10001 --user-group --groups dialout cpsim \
    && mkdir -p /state \
    && chown cpsim:cpsim /state

# The chargers' state (configuration, open transactions, queued messages):
# $XDG_STATE_HOME/cpsim/<id>, kept in a volume so it outlives the container.
ENV XDG_STATE_HOME=/state \
    PYTHONUNBUFFERED=1
VOLUME ["/state"]

# cpsim csms listens here: OCPP on 9000, its HTTP side (control API, firmware files,
# diagnostics uploads) on 9001.  Give it --host 0.0.0.0 inside a container (its
# default, 127.0.0.1, is unreachable from outside the container).
EXPOSE 9000 9001

USER cpsim
WORKDIR /home/cpsim
ENTRYPOINT ["cpsim"]
CMD ["demo"]
