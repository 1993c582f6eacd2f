#!/usr/bin/env bash
# Docker healthcheck for the rfy single-node Hadoop: healthcheck.sh <role>.
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
  *) echo "usage: healthcheck.sh namenode|datanode|resourcemanager|nodemanager" >&2; exit 2 ;;
esac
