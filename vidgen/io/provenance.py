"""Provenance for every video: the recipe, an invisible watermark and a signed C2PA manifest.

`finalize(path, frames, fps, recipe)` writes a finished video: it marks the frames with the
installation id and a video id, writes the MP4 with the recipe in its metadata and a sidecar
JSON, and signs the MP4 with a C2PA manifest (digital source type trainedAlgorithmicMedia, the
c2pa.created action, the recipe as an assertion). Temp files are renamed into place only when
everything succeeded, so nothing half-written is left behind.

`verify(path)` reports {"c2pa": "valid" | "tampered" | "untrusted" | "absent", "recipe": {...} |
None, "watermark": {"found", "payload", "confidence"}}.

Keys and trust live in the config directory ($VIDGEN_HOME, else ~/.vidgen): `init_keys()` makes
a local CA and a signing certificate (ECDSA P-256, no network, no timestamp authority);
signing.json names the certificate chain, private key and trust anchors, so a user can point
it at their own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path

import numpy as np

from vidgen import __version__
from vidgen.config import home
from vidgen.io import watermark
from vidgen.io.video import read_metadata, read_video, write_mp4

RECIPE_LABEL = "org.vidgen.recipe"
SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ID_BITS = watermark.BITS // 2  # installation id bits; the video id has the rest


# --- configuration and keys -------------------------------------------------------------------


def signing_config() -> dict:
    """signing.json: {"cert_chain", "private_key", "trust_anchors", "installation_id"}."""
    path = home() / "signing.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def _name(cn: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vidgen local installation"),
        ]
    )


def _usage(sign: bool):
    from cryptography import x509

    flags = dict.fromkeys(
        [
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ],
        False,
    )
    flags.update({"digital_signature": True} if sign else {"key_cert_sign": True, "crl_sign": True})
    return x509.KeyUsage(**flags)


def make_certificates(name: str = "vidgen") -> dict[str, bytes]:
    """A fresh CA and a signing certificate it issued: PEM {"ca", "chain", "key"}."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def base(subject, issuer, public):
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )

    ca_name = _name(f"{name} local CA")
    ca = (
        base(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        base(_name(f"{name} signer"), ca_name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    def pem(c):
        return c.public_bytes(serialization.Encoding.PEM)

    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {"ca": pem(ca), "chain": pem(leaf) + pem(ca), "key": key_pem}


def init_keys(
    cert_chain: Path | None = None,
    private_key: Path | None = None,
    trust_anchors: Path | None = None,
    force: bool = False,
) -> dict:
    """Write signing.json; make a local CA and signing certificate unless a chain is given."""
    cfg = signing_config()
    if cfg and not force and cert_chain is None:
        return cfg
    if (cert_chain is None) != (private_key is None):
        raise ValueError("give both --cert and --key (a certificate chain and its private key)")
    root = home()
    (root / "keys").mkdir(parents=True, exist_ok=True)
    if cert_chain is None:
        certs = make_certificates()
        for fname, k in (("ca.pem", "ca"), ("signer.pem", "chain"), ("signer.key", "key")):
            (root / "keys" / fname).write_bytes(certs[k])
        os.chmod(root / "keys" / "signer.key", 0o600)
        cert_chain, private_key = root / "keys" / "signer.pem", root / "keys" / "signer.key"
        trust_anchors = trust_anchors or root / "keys" / "ca.pem"
    for flag, p in (("--cert", cert_chain), ("--key", private_key), ("--anchors", trust_anchors)):
        if p is not None and not Path(p).is_file():
            raise ValueError(f"{flag}: file not found: {p}")
    cfg = {
        "cert_chain": str(Path(cert_chain).resolve()),
        "private_key": str(Path(private_key).resolve()),
        "trust_anchors": str(Path(trust_anchors).resolve()) if trust_anchors else None,
        "installation_id": cfg.get("installation_id", secrets.randbelow(2**ID_BITS)),
    }
    (root / "signing.json").write_text(json.dumps(cfg, indent=1) + "\n")
    return cfg


# --- the recipe -------------------------------------------------------------------------------


def recipe_metadata(recipe: dict) -> dict:
    """The MP4 metadata that carries a recipe (what `read_recipe` reads back)."""
    return {"comment": json.dumps({"vidgen_recipe": recipe})}


def read_recipe(path: str | Path) -> dict | None:
    """The recipe from an MP4's metadata (the C2PA assertion carries the same), or None."""
    try:
        comment = read_metadata(path).get("comment", "")
        return json.loads(comment)["vidgen_recipe"]
    except (ValueError, KeyError, TypeError):
        return None


def _ids(recipe: dict, installation: int) -> dict:
    """The watermark ids: reuse the recipe's (reproduce), else a fresh video id."""
    old = recipe.get("watermark") or {}
    inst = int(old.get("installation", installation))
    video = int(old.get("video", secrets.randbelow(2 ** (watermark.BITS - ID_BITS))))
    payload = (inst << (watermark.BITS - ID_BITS)) | video
    return {"installation": inst, "video": video, "payload": f"{payload:0{watermark.BITS // 4}x}"}


# --- writing a finished video -----------------------------------------------------------------


def _manifest(recipe: dict, title: str) -> dict:
    return {
        "claim_generator_info": [{"name": "vidgen", "version": __version__}],
        "title": title,
        "format": "video/mp4",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": SOURCE_TYPE,
                            "softwareAgent": {"name": "vidgen", "version": __version__},
                        }
                    ]
                },
            },
            {"label": RECIPE_LABEL, "data": recipe},
        ],
    }


def sign_mp4(src: Path, dst: Path, recipe: dict, cfg: dict) -> None:
    """Copy src to dst with a C2PA manifest signed by the configured certificate chain."""
    import c2pa

    info = c2pa.C2paSignerInfo(
        c2pa.C2paSigningAlg.ES256,
        Path(cfg["cert_chain"]).read_bytes(),
        Path(cfg["private_key"]).read_bytes(),
        None,  # no timestamp authority: vidgen makes no network calls
    )
    with (
        c2pa.Signer.from_info(info) as signer,
        c2pa.Builder(_manifest(recipe, dst.name)) as builder,
        open(src, "rb") as s,
        open(dst, "w+b") as d,
    ):
        builder.sign(signer, "video/mp4", s, d)


def finalize(
    path: str | Path,
    frames: np.ndarray,
    fps: float,
    recipe: dict,
    mark: bool = True,
    sign: bool = True,
) -> dict:
    """Write a finished video (watermark, MP4 + recipe, sidecar JSON, C2PA); returns the recipe."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = init_keys() if sign else signing_config()
    recipe = dict(recipe)
    if mark:
        recipe["watermark"] = _ids(recipe, int(cfg.get("installation_id", 0)))
        frames = watermark.embed(frames, fps, int(recipe["watermark"]["payload"], 16))
    plain, signed = path.with_name(f".{path.name}.plain"), path.with_name(f".{path.name}.signed")
    side, side_tmp = path.with_suffix(".json"), path.with_name(f".{path.stem}.json.tmp")
    try:
        write_mp4(plain, frames, fps, metadata=recipe_metadata(recipe))
        if sign:
            sign_mp4(plain, signed, recipe, cfg)
        else:
            os.replace(plain, signed)
        side_tmp.write_text(json.dumps(recipe, indent=1) + "\n")
        os.replace(side_tmp, side)
        os.replace(signed, path)
    finally:
        for p in (plain, signed, side_tmp):
            p.unlink(missing_ok=True)
    return recipe


# --- verification -----------------------------------------------------------------------------


def _anchors(cfg: dict) -> str:
    p = cfg.get("trust_anchors")
    return Path(p).read_text() if p and Path(p).is_file() else ""


def c2pa_status(path: str | Path) -> tuple[str, dict | None]:
    """("valid" | "tampered" | "untrusted" | "absent", the recipe assertion or None)."""
    import c2pa

    settings: dict = {"verify": {"verify_trust": True}}
    anchors = _anchors(signing_config())
    if anchors:
        settings["trust"] = {"trust_anchors": anchors}
    try:
        ctx = c2pa.Context.from_dict(settings)
        with open(path, "rb") as f:
            reader = c2pa.Reader.try_create("video/mp4", f, None, ctx)
            if reader is None:
                return "absent", None
            with reader:
                manifest = reader.get_active_manifest() or {}
                state = reader.get_validation_state()
                results = reader.get_validation_results() or {}
    except c2pa.C2paError:
        return "tampered", None  # a manifest store that cannot be parsed
    failures = {f["code"] for f in (results.get("activeManifest") or {}).get("failure", [])}
    recipe = next(
        (a["data"] for a in manifest.get("assertions", []) if a.get("label") == RECIPE_LABEL), None
    )
    if failures - {"signingCredential.untrusted"}:
        return "tampered", recipe
    if state != "Trusted":
        return "untrusted", recipe
    return "valid", recipe


def verify(path: str | Path) -> dict:
    """C2PA status, the recipe and the watermark of a video file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    status, recipe = c2pa_status(path)
    frames, fps = read_video(path)
    found = watermark.detect(frames, fps)
    payload = f"{found.payload:0{watermark.BITS // 4}x}" if found.found else None
    return {
        "c2pa": status,
        "recipe": recipe if recipe is not None else read_recipe(path),
        "watermark": {
            "found": found.found,
            "payload": payload,
            "confidence": round(found.confidence, 4),
        },
    }
