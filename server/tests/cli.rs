//! The `doudi` binary: region import, user add, migrate and demo, run as a user would.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

fn doudi(data_dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_doudi"));
    c.env_remove("DATABASE_URL")
        .env_remove("DOUDI_DATABASE_URL")
        .env_remove("DOUDI_CONFIG")
        .env("RUST_LOG", "warn")
        .arg("--config")
        .arg(data_dir.join("none.toml"));
    c
}

fn write_empty_config(dir: &std::path::Path) {
    std::fs::write(dir.join("none.toml"), "").unwrap();
}

#[test]
fn region_import_reports_bad_lines_and_imports_nothing_then_imports_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    write_empty_config(dir.path());
    let data = dir.path().join("data");
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "code,parent_code,level,name\n370000000000,,province,山东省\n370100000000,370000000000,city,济南市\n3701020000,370100000000,county,历下区\n370102001000,370102999000,township,无上级\n",
    )
    .unwrap();
    let out = doudi(dir.path())
        .args(["region", "import"])
        .arg(&bad)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv:4:"), "{err}");
    assert!(err.contains("bad.csv:5:"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");

    let good = dir.path().join("good.csv");
    std::fs::write(&good, include_str!("../data/regions-lixia.csv")).unwrap();
    let out = doudi(dir.path())
        .args(["region", "import"])
        .arg(&good)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = include_str!("../data/regions-lixia.csv").lines().count() - 1;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("imported: {rows} created, 0 renamed, 0 unchanged")
    );
    // The bad file's good lines were not imported before: the province came with the good file.
    let again = doudi(dir.path())
        .args(["region", "import"])
        .arg(&good)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        format!("imported: 0 created, 0 renamed, {rows} unchanged")
    );

    // The first admin, password on standard input.
    let mut child = doudi(dir.path())
        .args([
            "user",
            "add",
            "--username",
            "first.admin",
            "--display-name",
            "管理员",
            "--role",
            "admin",
            "--region",
            "370102000000",
            "--data-dir",
        ])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a-strong-password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("account first.admin created"));
    // Unknown region: a clear error.
    let mut child = doudi(dir.path())
        .args([
            "user",
            "add",
            "--username",
            "second",
            "--display-name",
            "某人",
            "--role",
            "admin",
            "--region",
            "110000000000",
            "--data-dir",
        ])
        .arg(&data)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a-strong-password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("region.unknown"));
}

#[test]
fn demo_starts_prints_address_and_logins_that_work() {
    let dir = tempfile::tempdir().unwrap();
    write_empty_config(dir.path());
    let data = dir.path().join("demo");
    let mut child = doudi(dir.path())
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut address = None;
    let mut printed = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.split("http://").nth(1)
            && address.is_none()
        {
            address = Some(rest.split_whitespace().next().unwrap().to_string());
        }
        if line.contains("Ctrl-C") {
            break;
        }
    }
    let address = address.unwrap_or_else(|| panic!("no address in: {printed}"));
    for user in [
        "demo-grid",
        "demo-assistant",
        "demo-cadre",
        "demo-town",
        "demo-county",
        "demo-admin",
    ] {
        assert!(printed.contains(user), "{user} not printed: {printed}");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("http://{address}/api/v1/auth/login"))
            .json(&serde_json::json!({
                "username": "demo-grid", "password": doudi_server::demo::DEMO_PASSWORD,
                "device": { "name": "demo", "platform": "desktop" }
            }))
            .send()
            .await
            .unwrap();
        r.status()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status, reqwest::StatusCode::OK);

    // A second start reuses the demo database.
    let out = doudi(dir.path())
        .args(["migrate", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(data.join("doudi.db").exists());
}
