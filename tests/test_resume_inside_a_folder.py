"""SeaweedFS's continuation token after a page that ends with a file that is also a folder."""

from __future__ import annotations

from conftest import base_env, new_bucket, put, run_mirror

from mirror.sandbox import LocalS3


def test_a_page_ending_in_a_file_that_is_also_a_folder_with_a_control_character(
        minio_side: LocalS3, aws_side: LocalS3) -> None:
    """SeaweedFS holds a file 'm\\x01' and keys under 'm\\x01/'. A page ending with that
    file has the token 'm\\ufffd/' (resume inside the folder): it names an entry of the
    page, and the next page starts after 'm\\x01/', not after 'm\\x01' (which SeaweedFS
    would answer without the folder's keys). No pair error, no key skipped."""
    src, dst = new_bucket(minio_side, "src"), new_bucket(aws_side, "dst")
    objects = {f"a{i:04}": b"f" for i in range(999)}  # the file is the page's last key
    objects["m\x01"] = b"file"
    put(minio_side, src, objects)
    children = {"m\x01/x": b"child x", "m\x01/y/z": b"child z", "m\x01-1": b"s", "n": b"n"}
    put(minio_side, src, children)
    objects.update(children)
    env = {**base_env(minio=minio_side, aws=aws_side), "BUCKET_PAIR": f"minio/{src}:aws/{dst}"}

    run = run_mirror(env)

    assert run.code == 0, run.stderr[-2000:]
    assert run.pair()["error"] is None
    assert run.pair()["listed_source"]["objects"] == len(objects)
    s3 = aws_side.boto3()
    # read back key by key: a listing by start-after would skip the folder on SeaweedFS
    assert {k: s3.get_object(Bucket=dst, Key=k)["Body"].read() for k in objects} == objects
    assert run_mirror(env).decisions() == {"unchanged": len(objects)}
