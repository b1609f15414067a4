"""An in-memory Hugging Face Hub on 127.0.0.1, enough for huggingface_hub uploads and `datasets.load_dataset`.

The real Hub cannot be reached from CI and no installable package serves its upload API, so the push tests run
against this server (see ENVIRONMENT.md, "Pushing to the Hub in tests"). It implements, for dataset repos only:
whoami, repo create (409 with `url` when it exists), settings (visibility), branches, repo info (per revision),
preupload (LFS for parquet and large files; the stored `oid` so unchanged files are skipped), NDJSON commits
(file, lfsFile, deletedFile, deletedFolder), LFS batch + PUT uploads, tree listing, paths-info, and resolve
(GET/HEAD, with Range). Writes and private reads require `Authorization: Bearer <token>`.

Every commit is recorded (`FakeHub.commits(repo)`), so a test can tell whether a push changed anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

LFS_SUFFIXES = (".parquet", ".arrow", ".bin", ".safetensors")
LFS_MIN_SIZE = 10 * 2**20


def git_blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class StoredFile:
    content: bytes
    lfs: bool

    @property
    def oid(self) -> str:
        """What preupload reports, and what huggingface_hub compares with its local oid."""
        return hashlib.sha256(self.content).hexdigest() if self.lfs else git_blob_oid(self.content)

    def tree_entry(self, path: str) -> dict:
        entry = {"type": "file", "path": path, "size": len(self.content), "oid": git_blob_oid(self.content)}
        if self.lfs:
            entry["lfs"] = {
                "oid": hashlib.sha256(self.content).hexdigest(),
                "size": len(self.content),
                "pointerSize": 134,
            }
        return entry


@dataclass
class Commit:
    sha: str
    message: str
    files: dict[str, StoredFile]


@dataclass
class Repo:
    repo_id: str
    private: bool
    branches: dict[str, list[Commit]] = field(default_factory=dict)

    def head(self, revision: str) -> Commit | None:
        if revision in self.branches:
            return self.branches[revision][-1]
        for commits in self.branches.values():
            for commit in commits:
                if commit.sha == revision:
                    return commit
        return None


class FakeHub:
    """The server's state plus its lifecycle: `with FakeHub(token) as hub: ... hub.url ...`."""

    def __init__(self, token: str):
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.unknown_routes: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    # ---- lifecycle -------------------------------------------------------------------------------------------
    def __enter__(self) -> FakeHub:
        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ---- state helpers -----------------------------------------------------------------------------------------
    def commits(self, repo_id: str, branch: str = "main") -> list[Commit]:
        return self.repos[repo_id].branches.get(branch, [])

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        head = self.repos[repo_id].head(revision)
        return {p: f.content for p, f in head.files.items()} if head else {}

    def create(self, repo_id: str, private: bool) -> Repo:
        repo = Repo(repo_id, private)
        first = Commit(hashlib.sha1(f"init {repo_id}".encode()).hexdigest(), "initial commit", {})
        first.files[".gitattributes"] = StoredFile(b"*.parquet filter=lfs diff=lfs merge=lfs -text\n", False)
        repo.branches["main"] = [first]
        self.repos[repo_id] = repo
        return repo

    def commit(self, repo: Repo, branch: str, lines: list[dict]) -> Commit:
        parent = repo.branches[branch][-1]
        files = dict(parent.files)
        message = ""
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "header":
                message = value.get("summary", "")
            elif key == "file":
                files[value["path"]] = StoredFile(base64.b64decode(value["content"]), False)
            elif key == "lfsFile":
                if value["oid"] not in self.lfs:
                    raise KeyError(f"LFS object {value['oid']} was never uploaded")
                files[value["path"]] = StoredFile(self.lfs[value["oid"]], True)
            elif key == "deletedFile":
                files.pop(value["path"], None)
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                files = {p: f for p, f in files.items() if not p.startswith(prefix)}
        digest = hashlib.sha1(parent.sha.encode() + json.dumps(sorted((p, f.oid) for p, f in files.items())).encode())
        commit = Commit(digest.hexdigest(), message, files)
        repo.branches[branch].append(commit)
        return commit


REPO = r"(?P<repo>[^/]+/[^/]+?)"
ROUTES = [
    ("GET", r"^/api/whoami-v2$", "whoami"),
    ("GET", r"^/api/agent-harnesses$", "agent_harnesses"),
    ("POST", r"^/api/repos/create$", "create_repo"),
    ("POST", r"^/api/validate-yaml$", "validate_yaml"),
    ("PUT", rf"^/api/datasets/{REPO}/settings$", "settings"),
    ("POST", rf"^/api/datasets/{REPO}/branch/(?P<branch>.+)$", "create_branch"),
    ("GET", rf"^/api/datasets/{REPO}(?:/revision/(?P<rev>.+))?$", "repo_info"),
    ("POST", rf"^/api/datasets/{REPO}/preupload/(?P<rev>.+)$", "preupload"),
    ("POST", rf"^/api/datasets/{REPO}/commit/(?P<rev>.+)$", "commit"),
    ("GET", rf"^/api/datasets/{REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$", "tree"),
    ("POST", rf"^/api/datasets/{REPO}/paths-info/(?P<rev>.+)$", "paths_info"),
    ("POST", rf"^/datasets/{REPO}\.git/info/lfs/objects/batch$", "lfs_batch"),
    ("PUT", r"^/lfs-upload/(?P<oid>[0-9a-f]{64})$", "lfs_upload"),
    ("GET", rf"^/datasets/{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$", "resolve"),
    ("HEAD", rf"^/datasets/{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$", "resolve"),
]


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # quiet: the tests read what they need from the hub's state
        pass

    # ---- plumbing ------------------------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        parsed = urlparse(self.path)
        self.query = parse_qs(parsed.query)
        path = unquote(parsed.path)
        for route_method, pattern, name in ROUTES:
            match = re.match(pattern, path)
            if route_method == method and match:
                with self.hub.lock:
                    getattr(self, name)(**{k: v for k, v in match.groupdict().items()})
                return
        self.hub.unknown_routes.append(f"{method} {path}")
        self._json({"error": f"no route {method} {path}"}, 404)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _json(self, data, status: int = 200, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        self._json({"error": message}, status, {"X-Error-Code": code, "X-Error-Message": message})

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.hub.token}"

    def _repo(self, repo: str, write: bool = False) -> Repo | None:
        found = self.hub.repos.get(repo)
        if found is None or ((found.private or write) and not self._authorized()):
            self._error(404, "RepoNotFound", f"Repository not found: {repo}")
            return None
        return found

    def _head(self, repo: Repo, rev: str | None) -> Commit | None:
        head = repo.head(unquote(rev or "main"))
        if head is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        return head

    # ---- routes --------------------------------------------------------------------------------------------
    def whoami(self) -> None:
        if not self._authorized():
            self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
            return
        self._json({"type": "user", "name": "tester", "fullname": "Test User", "orgs": [],
                    "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}}})  # fmt: skip

    def agent_harnesses(self) -> None:  # huggingface_hub's client-side agent detection asks for this registry
        self._json([])

    def create_repo(self) -> None:
        if not self._authorized():
            self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
            return
        payload = json.loads(self._body() or b"{}")
        name = payload["name"]
        repo_id = f"{payload.get('organization') or 'tester'}/{name}" if "/" not in name else name
        url = f"{self.hub.url}/datasets/{repo_id}"
        if repo_id in self.hub.repos:
            self._json({"error": "You already created this dataset repo", "url": url}, 409)
            return
        self.hub.create(
            repo_id, private=payload.get("visibility", "public") == "private" or bool(payload.get("private"))
        )
        self._json({"url": url, "name": repo_id})

    def validate_yaml(self) -> None:
        self._body()
        self._json({})

    def settings(self, repo: str) -> None:
        found = self._repo(repo, write=True)
        payload = json.loads(self._body() or b"{}")
        if found is None:
            return
        if "visibility" in payload:
            found.private = payload["visibility"] == "private"
        elif "private" in payload:
            found.private = bool(payload["private"])
        self._json({})

    def create_branch(self, repo: str, branch: str) -> None:
        found = self._repo(repo, write=True)
        self._body()
        if found is None:
            return
        if branch in found.branches:
            self._error(409, "Conflict", f"Reference already exists: {branch}")
            return
        found.branches[branch] = [found.branches["main"][-1]]
        self._json({})

    def repo_info(self, repo: str, rev: str | None = None) -> None:
        found = self._repo(repo)
        if found is None:
            return
        head = self._head(found, rev)
        if head is None:
            return
        siblings = [{"rfilename": p, "size": len(f.content)} for p, f in sorted(head.files.items())]
        self._json({"_id": repo, "id": repo, "author": repo.split("/")[0], "sha": head.sha, "private": found.private,
                    "disabled": False, "gated": False, "downloads": 0, "likes": 0, "tags": [],
                    "lastModified": "2026-01-01T00:00:00.000Z", "siblings": siblings})  # fmt: skip

    def preupload(self, repo: str, rev: str) -> None:
        found = self._repo(repo, write=True)
        payload = json.loads(self._body() or b"{}")
        if found is None or (head := self._head(found, rev)) is None:
            return
        files = []
        for f in payload.get("files", []):
            lfs = f["path"].endswith(LFS_SUFFIXES) or f["size"] >= LFS_MIN_SIZE
            entry = {"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}
            stored = head.files.get(f["path"])
            if stored is not None and stored.lfs == lfs:
                entry["oid"] = stored.oid
            files.append(entry)
        self._json({"files": files})

    def commit(self, repo: str, rev: str) -> None:
        found = self._repo(repo, write=True)
        body = self._body()
        if found is None:
            return
        branch = unquote(rev)
        if branch not in found.branches:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        try:
            commit = self.hub.commit(found, branch, lines)
        except KeyError as e:
            self._error(422, "LfsObjectMissing", str(e))
            return
        self._json({"commitUrl": f"{self.hub.url}/datasets/{repo}/commit/{commit.sha}", "commitOid": commit.sha,
                    "success": True})  # fmt: skip

    def _listing(self, head: Commit, path: str, recursive: bool) -> list[dict]:
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        entries, folders = [], set()
        for file_path, stored in sorted(head.files.items()):
            if not file_path.startswith(prefix):
                continue
            rest = file_path[len(prefix) :]
            if "/" in rest:
                parts = rest.split("/")
                tops = [prefix + "/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
                for folder in tops if recursive else tops[:1]:
                    folders.add(folder)
                if not recursive:
                    continue
            entries.append(stored.tree_entry(file_path))
        entries += [{"type": "directory", "path": f, "oid": hashlib.sha1(f.encode()).hexdigest(), "size": 0}
                    for f in sorted(folders)]  # fmt: skip
        return entries

    def tree(self, repo: str, rev: str, path: str | None = None) -> None:
        found = self._repo(repo)
        if found is None or (head := self._head(found, rev)) is None:
            return
        path = path or ""
        if path and path not in head.files and not any(p.startswith(path.rstrip("/") + "/") for p in head.files):
            self._error(404, "EntryNotFound", f"{path} does not exist on {rev}")
            return
        recursive = self.query.get("recursive", ["false"])[0].lower() in ("1", "true")
        self._json(self._listing(head, path, recursive))

    def paths_info(self, repo: str, rev: str) -> None:
        found = self._repo(repo)
        body = self._body()
        if found is None or (head := self._head(found, rev)) is None:
            return
        content_type = self.headers.get("Content-Type", "")
        if "json" in content_type:
            paths = json.loads(body or b"{}").get("paths", [])
        else:
            paths = parse_qs(body.decode()).get("paths", [])
        out = []
        for path in paths:
            if path in head.files:
                out.append(head.files[path].tree_entry(path))
            elif any(p.startswith(path.rstrip("/") + "/") for p in head.files):
                out.append(
                    {"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0}
                )
        self._json(out)

    def lfs_batch(self, repo: str) -> None:
        found = self._repo(repo, write=True)
        payload = json.loads(self._body() or b"{}")
        if found is None:
            return
        objects = []
        for obj in payload.get("objects", []):
            entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.hub.lfs:
                entry["actions"] = {"upload": {"href": f"{self.hub.url}/lfs-upload/{obj['oid']}", "header": {}}}
            objects.append(entry)
        self._json({"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
                   headers={"Content-Type": "application/vnd.git-lfs+json"})  # fmt: skip

    def lfs_upload(self, oid: str) -> None:
        body = self._body()
        if hashlib.sha256(body).hexdigest() != oid:
            self._error(400, "BadOid", "content does not match its oid")
            return
        self.hub.lfs[oid] = body
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def resolve(self, repo: str, rev: str, path: str) -> None:
        found = self._repo(repo)
        if found is None or (head := self._head(found, rev)) is None:
            return
        stored = head.files.get(path)
        if stored is None:
            self._error(404, "EntryNotFound", f"{path} does not exist on {rev}")
            return
        content = stored.content
        status, start, end = 200, 0, len(content) - 1
        ranged = re.match(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if ranged and content:
            first, last = ranged.groups()
            if first:
                start, end = int(first), min(int(last) if last else end, end)
            else:
                start = max(0, len(content) - int(last))
            status = 206
        body = content[start : end + 1]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("X-Repo-Commit", head.sha)
        self.send_header("ETag", f'"{git_blob_oid(content)}"')
        if stored.lfs:
            self.send_header("X-Linked-Etag", f'"{stored.oid}"')
            self.send_header("X-Linked-Size", str(len(content)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(content)}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
