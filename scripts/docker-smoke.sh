#!/usr/bin/env bash
# Builds both images as Fly does (context = repository root, fly/*/Dockerfile) and runs them
# the way Fly runs them: the API with a volume at /data, the MCP server in front of it, then
# the path Claude takes (scripts/stack_client.py), the volume's ownership, the unprivileged
# users, and a graceful stop with Fly's kill signal. Run by the `docker` job of
# .github/workflows/ci.yml; the development machines have no Docker.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
net=mechafil-smoke
volume=mechafil-smoke-data

cleanup() {
    local code=$?
    if [ "$code" -ne 0 ]; then
        docker logs mechafil-api 2>&1 | tail -n 40 || true
        docker logs mechafil-mcp 2>&1 | tail -n 40 || true
    fi
    docker rm -f mechafil-api mechafil-mcp >/dev/null 2>&1 || true
    docker volume rm "$volume" >/dev/null 2>&1 || true
    docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "build fly/api/Dockerfile and fly/mcp/Dockerfile (context: the repository root)"
DOCKER_BUILDKIT=1 docker build -f fly/api/Dockerfile -t mechafil-api:smoke .
DOCKER_BUILDKIT=1 docker build -f fly/mcp/Dockerfile -t mechafil-mcp:smoke .
docker image ls --format '  {{.Repository}}:{{.Tag}} {{.Size}}' | grep smoke

step "run: the API on a volume at /data, the MCP server calling it"
docker network create "$net" >/dev/null
docker volume create "$volume" >/dev/null
docker run -d --name mechafil-api --network "$net" -p 127.0.0.1:8000:8000 \
    -v "$volume:/data" -e ADMIN_TOKEN=smoke-admin-token mechafil-api:smoke >/dev/null
docker run -d --name mechafil-mcp --network "$net" -p 127.0.0.1:8080:8080 \
    -e MECHAFIL_SERVER_URL=http://mechafil-api:8000 mechafil-mcp:smoke >/dev/null
python3 scripts/stack_client.py wait-health http://127.0.0.1:8000/health --timeout-secs 60
python3 scripts/stack_client.py wait-health http://127.0.0.1:8080/health --timeout-secs 60

step "Claude's path through the containers"
python3 scripts/stack_client.py mcp-http --mcp-url http://127.0.0.1:8080/mcp --api-url http://127.0.0.1:8000

step "unprivileged processes, the store on the volume owned by the service user"
api_user=$(docker top mechafil-api -o user,args | awk 'NR > 1 && /mechafil-api/ {print $1}')
mcp_user=$(docker top mechafil-mcp -o user,args | awk 'NR > 1 && /mcp-server/ {print $1}')
echo "  mechafil-api runs as: $api_user; mcp-server runs as: $mcp_user"
[ -n "$api_user" ] && [ "$api_user" != root ] || die "mechafil-api runs as root"
[ -n "$mcp_user" ] && [ "$mcp_user" != root ] || die "mcp-server runs as root"
owner=$(docker exec mechafil-api stat -c '%u' /data/mechafil.redb)
[ "$owner" = 10001 ] || die "/data/mechafil.redb is owned by uid $owner, not 10001"
echo "  /data/mechafil.redb owned by uid $owner"

step "the admin endpoint answers (no Spacescope token in this test: 503)"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer smoke-admin-token' \
    http://127.0.0.1:8000/admin/update-cache)
[ "$status" = 503 ] || die "POST /admin/update-cache answered $status, expected 503"
echo "  POST /admin/update-cache: $status"

step "graceful stop with Fly's kill signal (SIGTERM) within kill_timeout"
for name in mechafil-mcp mechafil-api; do
    docker stop --signal SIGTERM --time 15 "$name" >/dev/null
    code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
    [ "$code" = 0 ] || die "$name exited with $code"
    echo "  $name exited 0"
done
docker logs mechafil-api 2>&1 | grep -q "SIGTERM: shutting down" || die "the API did not log its shutdown"

step "restart the API on the same volume"
docker start mechafil-api >/dev/null
python3 scripts/stack_client.py wait-health http://127.0.0.1:8000/health --timeout-secs 60
echo "docker smoke test: passed"
