#!/usr/bin/env bash
# Docker healthcheck for the rfy single-node Hadoop and Kafka: healthcheck.sh <role>.
# Plain bash (/dev/tcp), so it needs neither curl nor a JVM in the image.
# The ports are those of conf/ (127.0.0.1, host network).
set -u

# get HOST PORT PATH: print the HTTP response body (HTTP/1.0, connection closes).
get() {
  exec 3<>"/dev/tcp/$1/$2" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$3" "$1" >&3
  timeout 5 cat <&3
  exec 3<&-
}

case "${1:-}" in
  namenode)   # up and out of safe mode
    get 127.0.0.1 19870 '/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo' \
      | grep -Eq '"Safemode" *: *""' ;;
  datanode)   # registered: the NameNode counts a live DataNode
    get 127.0.0.1 19864 '/jmx?qry=Hadoop:service=DataNode,name=DataNodeInfo' | grep -q DataNodeInfo \
      && get 127.0.0.1 19870 '/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState' \
      | grep -Eq '"NumLiveDataNodes" *: *[1-9]' ;;
  resourcemanager)
    get 127.0.0.1 18088 /ws/v1/cluster/info | grep -q '"state":"STARTED"' ;;
  nodemanager)  # healthy itself and RUNNING at the ResourceManager
    get 127.0.0.1 18042 /ws/v1/node/info | grep -q '"nodeHealthy":true' \
      && get 127.0.0.1 18088 /ws/v1/cluster/nodes | grep -q '"state":"RUNNING"' ;;
  kafka)  # the broker answers an ApiVersions request (v0; Kafka's binary protocol) without error
    # request: size 10, api key 18 (ApiVersions), version 0, correlation id 1, null client id;
    # response: size, correlation id 1, error code 0. RFY_HEALTHCHECK_KAFKA_PORT: another
    # broker's port (to try the check against scripts/kafka's broker on 9092).
    exec 3<>/dev/tcp/127.0.0.1/${RFY_HEALTHCHECK_KAFKA_PORT:-19092} || exit 1
    printf '\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\xff\xff' >&3
    [[ "$(timeout 5 head -c 10 <&3 | od -An -tx1 | tr -d ' \n')" =~ ^[0-9a-f]{8}000000010000$ ]] ;;
  *) echo "usage: healthcheck.sh namenode|datanode|resourcemanager|nodemanager|kafka" >&2; exit 2 ;;
esac
