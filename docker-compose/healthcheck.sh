#!/usr/bin/env bash
# Docker healthcheck for the rfy single-node Hadoop: healthcheck.sh <role>.
# Plain bash (/dev/tcp), so it needs neither curl nor a JVM in the image.
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
    get localhost 9870 '/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo' \
      | grep -Eq '"Safemode" *: *""' ;;
  datanode)   # registered: the NameNode counts a live DataNode
    get localhost 9864 '/jmx?qry=Hadoop:service=DataNode,name=DataNodeInfo' | grep -q DataNodeInfo \
      && get namenode 9870 '/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState' \
      | grep -Eq '"NumLiveDataNodes" *: *[1-9]' ;;
  resourcemanager)
    get localhost 8088 /ws/v1/cluster/info | grep -q '"state":"STARTED"' ;;
  nodemanager)  # healthy itself and RUNNING at the ResourceManager
    get localhost 8042 /ws/v1/node/info | grep -q '"nodeHealthy":true' \
      && get resourcemanager 8088 /ws/v1/cluster/nodes | grep -q '"state":"RUNNING"' ;;
  *) echo "usage: healthcheck.sh namenode|datanode|resourcemanager|nodemanager" >&2; exit 2 ;;
esac
