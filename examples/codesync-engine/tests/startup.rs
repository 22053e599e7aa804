//! Startup refuses to run without a usable secret, and `--help` documents every setting.

use std::process::Command;

fn engine(secret: Option<&str>, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_codesync-engine"));
    command
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .args(args)
        .env_remove("CODESYNC_INTERNAL_AUTH");
    if let Some(secret) = secret {
        command.env("CODESYNC_INTERNAL_AUTH", secret);
    }
    command.output().expect("run codesync-engine")
}

#[test]
fn refuses_to_start_without_the_secret() {
    let out = engine(None, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("CODESYNC_INTERNAL_AUTH is not set"),
        "{stderr}"
    );
}

#[test]
fn refuses_a_short_secret() {
    let out = engine(Some("too-short"), &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least 16 bytes"), "{stderr}");
}

#[test]
fn help_documents_every_flag_and_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_codesync-engine"))
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--listen",
        "CODESYNC_LISTEN",
        "127.0.0.1:8090",
        "--data",
        "./engine-data",
        "--postgres-url",
        "CODESYNC_POSTGRES_URL",
        "--capacity",
        "10000",
        "--max-document-bytes",
        "102400",
        "--max-body-bytes",
        "CODESYNC_INTERNAL_AUTH",
        "/merge/{session_id}",
    ] {
        assert!(
            help.contains(needle),
            "{needle} missing from --help:\n{help}"
        );
    }
}
