//! Persistence of the running configuration: the state file (`vxgw --state FILE`).
//!
//! After every accepted change the control side writes the whole running
//! configuration, in the startup file's TOML format, atomically: `FILE.tmp` in the same
//! directory, fsync, rename over `FILE`, fsync the directory. A crash at any point
//! leaves either the previous or the new file, never a torn one. At start a state file
//! that exists takes precedence over `--config`; one that exists but does not parse is
//! an error (vxgw refuses to start rather than silently run something else).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::config::Config;

/// Where the running configuration is kept unless `--state` says otherwise.
pub const DEFAULT_STATE: &str = "/var/lib/vxgw/running.toml";

/// The first lines of every state file (TOML comments: the file still parses as a
/// startup configuration).
const HEADER: &str =
    "# vxgw running configuration: written after every change made over the control\n\
# socket (vxgwctl), restored at start in preference to --config. Change it with\n\
# `vxgwctl config apply FILE`, not by hand while vxgw runs.\n\n";

/// Why a save failed, and whether `FILE` may already hold the new text.
#[derive(Debug)]
pub struct SaveError {
    /// What went wrong (with the path).
    pub message: String,
    /// The rename happened: `FILE` holds the new text, but its directory entry may not
    /// be durable.
    pub renamed: bool,
}

/// `FILE.tmp`, beside `FILE`.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Writes `text` to `path` atomically and durably: write `path.tmp`, fsync it, rename
/// it over `path`, fsync the directory.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), SaveError> {
    let tmp = tmp_path(path);
    let fail = |what: &str, p: &Path, e: std::io::Error, renamed: bool| SaveError {
        message: format!("{what} {}: {e}", p.display()),
        renamed,
    };
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o640)
            .open(&tmp)
            .map_err(|e| fail("cannot create", &tmp, e, false))?;
        f.write_all(text.as_bytes())
            .map_err(|e| fail("cannot write", &tmp, e, false))?;
        f.sync_all()
            .map_err(|e| fail("cannot fsync", &tmp, e, false))
    })();
    if let Err(e) = written.and_then(|()| {
        fs::rename(&tmp, path).map_err(|e| fail("cannot rename over", path, e, false))
    }) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let dir = dir_of(path);
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail("cannot fsync directory", dir, e, true))
}

/// Saves a configuration as the state file (header + `Config::to_toml`).
pub fn save(path: &Path, cfg: &Config) -> Result<(), SaveError> {
    write_atomic(path, &format!("{HEADER}{}", cfg.to_toml()))
}

/// Where the configuration vxgw starts with came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The `--config` file (no state file yet).
    ConfigFile(PathBuf),
    /// The state file, saved by an earlier run.
    StateFile(PathBuf),
}

/// Chooses the configuration to start with: the state file when it exists (it must be
/// valid, and its ports must be those of `--config` when that is given too), else
/// `--config` (then required). Makes sure the state file's directory exists so that
/// the first change can be saved.
pub fn startup_config(
    config: Option<&Path>,
    state: Option<&Path>,
) -> Result<(Config, Origin), String> {
    let from_config = || -> Result<Config, String> {
        let p = config.ok_or_else(|| match state {
            Some(s) => format!(
                "--config FILE is required: there is no saved running configuration at {}",
                s.display()
            ),
            None => "--config FILE is required".to_string(),
        })?;
        Config::load(p).map_err(|errs| format!("invalid configuration:\n  {}", errs.join("\n  ")))
    };
    let Some(state) = state else {
        let p = config.ok_or("--config FILE is required")?;
        return Ok((from_config()?, Origin::ConfigFile(p.to_path_buf())));
    };
    match fs::metadata(state) {
        Ok(_) => {
            let saved = Config::load(state).map_err(|errs| {
                format!(
                    "the saved running configuration {} is invalid; vxgw will not start from \
                     something else silently: fix it, or remove it to start from --config:\n  {}",
                    state.display(),
                    errs.join("\n  ")
                )
            })?;
            if config.is_some() {
                let startup = from_config()?;
                if startup.ports != saved.ports {
                    let names = |c: &Config| {
                        c.ports
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    return Err(format!(
                        "the saved running configuration {} has other [[port]]s than {} ([{}] vs [{}]); \
                         ports cannot change through a restart that restores the saved state: \
                         remove {} to start from {}, or give the ports back",
                        state.display(),
                        config.unwrap_or(Path::new("")).display(),
                        names(&saved),
                        names(&startup),
                        state.display(),
                        config.unwrap_or(Path::new("")).display(),
                    ));
                }
            }
            Ok((saved, Origin::StateFile(state.to_path_buf())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let cfg = from_config()?;
            let dir = dir_of(state);
            fs::create_dir_all(dir).map_err(|e| {
                format!(
                    "state directory {}: {e} (choose another with --state PATH, or --state none)",
                    dir.display()
                )
            })?;
            Ok((
                cfg,
                Origin::ConfigFile(config.unwrap_or(Path::new("")).to_path_buf()),
            ))
        }
        Err(e) => Err(format!("state file {}: {e}", state.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str =
        "[gateway]\nvtep_ip = \"172.30.0.1\"\n\n[[port]]\nname = \"p0\"\nroles = [\"underlay\"]\n";

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vxgw-persist-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn save_is_atomic_and_parses_back() {
        let d = scratch("save");
        let path = d.join("running.toml");
        let cfg = Config::parse(CFG).unwrap();
        save(&path, &cfg).unwrap();
        assert!(!tmp_path(&path).exists(), "no temporary left behind");
        assert_eq!(Config::load(&path).unwrap(), cfg);
        // A stale temporary from a crash is simply overwritten.
        fs::write(tmp_path(&path), "garbage").unwrap();
        save(&path, &cfg).unwrap();
        assert_eq!(Config::load(&path).unwrap(), cfg);
        // A directory that does not exist: an error naming the path, nothing written.
        let e = save(&d.join("nope/running.toml"), &cfg).unwrap_err();
        assert!(e.message.contains("nope/running.toml.tmp"), "{}", e.message);
        assert!(!e.renamed);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn state_file_takes_precedence_and_must_be_valid() {
        let d = scratch("startup");
        let (cfg_path, state) = (d.join("gw.toml"), d.join("st/running.toml"));
        fs::write(&cfg_path, CFG).unwrap();
        // First start: from --config; the state directory is created.
        let (c, o) = startup_config(Some(&cfg_path), Some(&state)).unwrap();
        assert_eq!(o, Origin::ConfigFile(cfg_path.clone()));
        assert!(d.join("st").is_dir());
        // A saved state wins over --config.
        let mut changed = c.clone();
        changed.gateway.ttl = 9;
        save(&state, &changed).unwrap();
        let (c2, o2) = startup_config(Some(&cfg_path), Some(&state)).unwrap();
        assert_eq!((c2.gateway.ttl, o2), (9, Origin::StateFile(state.clone())));
        // ... even without --config.
        assert_eq!(startup_config(None, Some(&state)).unwrap().0, changed);
        // Different ports: refused, naming both files.
        let mut other = changed.clone();
        other.ports[0].name = "p9".into();
        save(&state, &other).unwrap();
        let e = startup_config(Some(&cfg_path), Some(&state)).unwrap_err();
        assert!(
            e.contains("other [[port]]s") && e.contains("running.toml"),
            "{e}"
        );
        // Invalid: refused, naming the file.
        fs::write(&state, "[gateway]\nttl = \"x\"\n").unwrap();
        let e = startup_config(Some(&cfg_path), Some(&state)).unwrap_err();
        assert!(
            e.contains(&state.display().to_string()) && e.contains("invalid"),
            "{e}"
        );
        // No state, no --config.
        fs::remove_file(&state).unwrap();
        let e = startup_config(None, Some(&state)).unwrap_err();
        assert!(e.contains("--config FILE is required"), "{e}");
        let _ = fs::remove_dir_all(&d);
    }
}
