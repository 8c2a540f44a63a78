//! Keypairs Nova generates when a client sends no public key (Packer's temporary keypair):
//! Ed25519 from ring, the private key in OpenSSH's own format (`OPENSSH PRIVATE KEY`, which
//! OpenSSH, Go's x/crypto/ssh and russh read) and the public key as `ssh-ed25519 AAAA...`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

fn put(buf: &mut Vec<u8>, part: &[u8]) {
    buf.extend_from_slice(&(part.len() as u32).to_be_bytes());
    buf.extend_from_slice(part);
}

/// A generated keypair: (private key PEM, OpenSSH public key, fingerprint).
pub fn generate(comment: &str) -> Option<(String, String, String)> {
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).ok()?;
    let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).ok()?;
    // ring writes PKCS#8 v2: the 32-byte seed is at bytes 16..48.
    let seed = doc.as_ref().get(16..48)?;
    let public = pair.public_key().as_ref();
    let mut blob = Vec::with_capacity(51);
    put(&mut blob, b"ssh-ed25519");
    put(&mut blob, public);
    // PROTOCOL.key: unencrypted, one key, the private section padded to 8 bytes.
    let check = u32::from_be_bytes(seed.get(..4)?.try_into().ok()?);
    let mut private = Vec::new();
    private.extend_from_slice(&check.to_be_bytes());
    private.extend_from_slice(&check.to_be_bytes());
    put(&mut private, b"ssh-ed25519");
    put(&mut private, public);
    put(&mut private, &[seed, public].concat());
    put(&mut private, comment.as_bytes());
    let mut pad = 1u8;
    while private.len() % 8 != 0 {
        private.push(pad);
        pad += 1;
    }
    let mut file = b"openssh-key-v1\0".to_vec();
    put(&mut file, b"none");
    put(&mut file, b"none");
    put(&mut file, b"");
    file.extend_from_slice(&1u32.to_be_bytes());
    put(&mut file, &blob);
    put(&mut file, &private);
    let b64 = STANDARD.encode(&file);
    let mut pem = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(70) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    let openssh = format!("ssh-ed25519 {} {comment}", STANDARD.encode(&blob));
    let digest = ring::digest::digest(&ring::digest::SHA256, &blob);
    let fingerprint = format!(
        "SHA256:{}",
        STANDARD.encode(digest.as_ref()).trim_end_matches('=')
    );
    Some((pem, openssh, fingerprint))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_have_the_expected_shapes_and_ssh_keygen_accepts_them() {
        let (pem, public, fp) = super::generate("packer").unwrap();
        assert!(pem.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        assert!(
            public.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"),
            "{public}"
        );
        assert!(fp.starts_with("SHA256:"));
        // When OpenSSH is installed, it must derive the same public key from the private one.
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        std::fs::write(&key, &pem).unwrap();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        if let Ok(out) = std::process::Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(&key)
            .output()
        {
            let derived = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                derived.split_whitespace().nth(1),
                public.split_whitespace().nth(1)
            );
        }
    }
}
