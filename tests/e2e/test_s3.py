"""Input and output on S3, against a moto server on 127.0.0.1."""
import io
import re
import threading
import time

import boto3
import numpy as np
import pyarrow.parquet as pq

from conftest import run_sluice, smooth_images, write_seed_parquet


def test_run_reads_and_writes_s3(tmp_path, models, moto_endpoint):
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="images")
    s3.create_bucket(Bucket="predictions")
    local = tmp_path / "in"
    local.mkdir()
    images = smooth_images(12, seed=5)
    write_seed_parquet(local / "part-0.parquet", images[:7])
    write_seed_parquet(local / "part-1.parquet", images[7:])
    for name in ("part-0.parquet", "part-1.parquet"):
        s3.upload_file(str(local / name), "images", f"seed/{name}")
    s3.put_object(Bucket="images", Key="seed/_SUCCESS", Body=b"")

    run_sluice("run", "--input", "s3://images/seed", "--model", models["resnet18"], "--output",
               "s3://predictions/run1", "--s3-endpoint", moto_endpoint, "--logits", "--device", "cpu", check=0)
    run_sluice("run", "--input", local, "--model", models["resnet18"], "--output", tmp_path / "local-out",
               "--logits", "--device", "cpu", check=0)

    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="predictions")["Contents"])
    assert keys == ["run1/part-0.parquet", "run1/part-1.parquet"]
    for name in ("part-0.parquet", "part-1.parquet"):
        body = s3.get_object(Bucket="predictions", Key=f"run1/{name}")["Body"].read()
        remote = pq.read_table(io.BytesIO(body)).to_pydict()
        local_rows = pq.read_table(tmp_path / "local-out" / name).to_pydict()
        assert remote["path"] == [f"s3://images/seed/{name}"] * len(local_rows["row"])
        assert remote["row"] == local_rows["row"]
        np.testing.assert_array_equal(np.array(remote["logits"]), np.array(local_rows["logits"]))


def test_endpoint_from_environment_variable(tmp_path, models, moto_endpoint):
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="env-bucket")
    write_seed_parquet(tmp_path / "x.parquet", smooth_images(2))
    s3.upload_file(str(tmp_path / "x.parquet"), "env-bucket", "in/x.parquet")
    run_sluice("preprocess", "--input", "s3://env-bucket/in", "--output", "s3://env-bucket/crops",
               env={"AWS_ENDPOINT_URL": moto_endpoint}, check=0)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="env-bucket", Prefix="crops/")["Contents"]]
    assert keys == ["crops/x.parquet"]


def test_unreachable_endpoint_fails_quickly_with_a_clear_message(tmp_path, models):
    from conftest import free_port

    start = time.time()
    result = run_sluice("run", "--input", "s3://images/seed", "--model", models["resnet18"], "--output",
                        tmp_path / "out", "--s3-endpoint", f"http://127.0.0.1:{free_port()}", "--device", "cpu",
                        env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "s3://images/seed" in result.stderr
    assert time.time() - start < 60


def test_resume_on_s3_finishes_an_output_that_limit_cut_short(tmp_path, models, moto_endpoint):
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="resume")
    write_seed_parquet(tmp_path / "a.parquet", smooth_images(6, seed=8), row_group_size=2)
    write_seed_parquet(tmp_path / "b.parquet", smooth_images(3, seed=9))
    for name in ("a.parquet", "b.parquet"):
        s3.upload_file(str(tmp_path / name), "resume", f"in/{name}")
    flags = ("--model", models["resnet18"], "--s3-endpoint", moto_endpoint, "--device", "cpu")
    run_sluice("run", "--input", "s3://resume/in", "--output", "s3://resume/out", "--limit", "4", *flags, check=0)
    result = run_sluice("run", "--input", "s3://resume/in", "--output", "s3://resume/out", "--resume", *flags,
                        check=0)
    assert "images: 9 (0 errors) in 2 files" in result.stdout and "4 of 6 rows" in result.stdout
    for name, rows in (("a.parquet", 6), ("b.parquet", 3)):
        body = s3.get_object(Bucket="resume", Key=f"out/{name}")["Body"].read()
        assert pq.read_table(io.BytesIO(body)).column("row").to_pylist() == list(range(rows))
    again = run_sluice("run", "--input", "s3://resume/in", "--output", "s3://resume/out", "--resume", *flags, check=0)
    assert "images: 0 (0 errors)" in again.stdout and "2 inputs already had output" in again.stdout


class _SlowProxy:
    """Forwards HTTP requests to `target` after `delay` seconds each: an S3 endpoint far away."""

    def __init__(self, target, delay):
        import http.client
        import http.server
        import threading
        from urllib.parse import urlparse

        host, port = urlparse(target).hostname, urlparse(target).port
        self.requested = set()  # the paths asked for (bucket/key, without the query)
        requested, lock = self.requested, threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def forward(self):
                with lock:
                    requested.add(self.path.split("?")[0])
                time.sleep(delay)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection(host, port, timeout=30)
                upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = forward

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_progress_while_planning_counts_footers_read(tmp_path, moto_endpoint):
    """Reading the footers of many files on a distant S3 takes a while: the progress line says so."""
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="far")
    write_seed_parquet(tmp_path / "x.parquet", smooth_images(1, height=32, width=32))
    body = (tmp_path / "x.parquet").read_bytes()
    for i in range(48):
        s3.put_object(Bucket="far", Key=f"in/part-{i:03}.parquet", Body=body)
    proxy = _SlowProxy(moto_endpoint, delay=0.3)
    try:
        result = run_sluice("preprocess", "--input", "s3://far/in", "--output", tmp_path / "out", "--image-shape",
                            "32,32,3", "--resize-size", "32", "--crop-size", "16", "--limit", "1", "--progress",
                            "--s3-endpoint", proxy.endpoint, check=0)
    finally:
        proxy.close()
    lines = result.stderr.splitlines()
    assert any(re.fullmatch(r"\[sluice\] reading input footers: \d+/48 files \| elapsed \d+s", line)
               for line in lines), result.stderr
    assert lines[-1].startswith("[sluice] 1/1 images (100.0%)"), result.stderr


def test_ctrl_c_while_reading_footers_stops_the_job_without_waiting_for_the_rest(tmp_path, moto_endpoint):
    import signal
    import subprocess

    from conftest import sluice_binary

    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket="farther")
    write_seed_parquet(tmp_path / "x.parquet", smooth_images(1, height=32, width=32))
    body = (tmp_path / "x.parquet").read_bytes()
    for i in range(160):  # 10 rounds of 16 footer readers, each 0.3 s or more: several seconds
        s3.put_object(Bucket="farther", Key=f"in/part-{i:03}.parquet", Body=body)
    proxy = _SlowProxy(moto_endpoint, delay=0.3)
    try:
        job = subprocess.Popen([sluice_binary(), "preprocess", "--input", "s3://farther/in", "--output",
                                str(tmp_path / "out"), "--image-shape", "32,32,3", "--resize-size", "32",
                                "--crop-size", "16", "--progress", "--s3-endpoint", proxy.endpoint],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watchdog = threading.Timer(120, job.kill)  # a job that never says it reads footers fails, not hangs
        watchdog.start()
        lines = []
        for line in job.stderr:  # wait until footers are being read
            lines.append(line)
            if "reading input footers" in line:
                break
        else:
            raise AssertionError("".join(lines))
        job.send_signal(signal.SIGINT)
        _, stderr = job.communicate(timeout=120)
        watchdog.cancel()
    finally:
        proxy.close()
    assert job.returncode == -signal.SIGINT, stderr
    assert "interrupted" in stderr
    # The reads in flight finish (16 at a time), the rest are never asked for: without the stop
    # check all 160 files were read. Counted in files, not seconds, so a loaded machine cannot fail it.
    footers_read = sum(1 for path in proxy.requested if path.startswith("/farther/in/part-"))
    assert footers_read < 100, footers_read
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
