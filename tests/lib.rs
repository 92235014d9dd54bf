//! Test support shared by vxgw's integration and end-to-end tests: EAL argument
//! sets for virtual devices, pcap files, and a guard for a running vxgw process.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};

pub mod pcap_gateway;

/// A file prefix unique to this process and tag, so concurrent DPDK processes
/// (tests run in parallel) never share /var/run/dpdk state.
pub fn file_prefix(tag: &str) -> String {
    format!("vxgwt_{tag}_{}", std::process::id())
}

/// EAL arguments for a test process: no PCI, no hugepages, main lcore 0 and one
/// worker on lcore 1, the given vdevs.
pub fn eal_args(prefix: &str, vdevs: &[String]) -> Vec<String> {
    let mut v: Vec<String> = ["-l", "0-1", "--no-pci", "--no-huge", "-m", "256"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.push(format!("--file-prefix={prefix}"));
    v.extend(vdevs.iter().map(|d| format!("--vdev={d}")));
    v
}

/// Removes EAL's runtime directory of a prefix.
pub fn cleanup_prefix(prefix: &str) {
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{prefix}"));
}

/// A scratch directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `/tmp/vxgwt-<tag>-<pid>`.
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("vxgwt-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    /// Path of a file inside.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes Ethernet frames to a pcap file (an empty list gives a header-only file,
/// which net_pcap accepts as an rx source that never delivers).
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let f = std::fs::File::create(path).expect("create pcap");
    let mut w = PcapWriter::new(f).expect("pcap header");
    for (i, fr) in frames.iter().enumerate() {
        let pkt = PcapPacket::new(Duration::from_micros(i as u64), fr.len() as u32, fr);
        w.write_packet(&pkt).expect("write packet");
    }
}

/// Reads every frame of a pcap file.
pub fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let f = std::fs::File::open(path).expect("open pcap");
    let mut r = PcapReader::new(f).expect("pcap header");
    let mut v = Vec::new();
    while let Some(p) = r.next_packet() {
        v.push(p.expect("pcap record").data.into_owned());
    }
    v
}

/// A UDP/IPv4 test frame of `len` bytes whose payload encodes `seq`.
pub fn udp_frame(seq: u32, len: usize) -> Vec<u8> {
    let len = len.max(60);
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 0, 0, 2]);
    let mut sum: u32 = 0;
    for i in (14..34).step_by(2) {
        sum += u16::from_be_bytes([f[i], f[i + 1]]) as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    f[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f[34..36].copy_from_slice(&((1000 + (seq % 50000)) as u16).to_be_bytes());
    f[36..38].copy_from_slice(&2000u16.to_be_bytes());
    f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
    f[42..46].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in f[46..].iter_mut().enumerate() {
        *b = (seq as usize + i) as u8;
    }
    f
}

/// A vxgw process that is stopped (SIGINT, then SIGKILL) when dropped.
pub struct Process {
    child: Option<Child>,
    stdout_lines: mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Process {
    /// Starts `bin` with `args`, capturing stdout line by line and stderr whole.
    pub fn spawn(bin: &Path, args: &[String]) -> Process {
        Process::spawn_env(bin, args, &[])
    }

    /// [`Process::spawn`] with extra environment variables.
    pub fn spawn_env(bin: &Path, args: &[String], env: &[(&str, &str)]) -> Process {
        let mut child = Command::new(bin)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let err = child.stderr.take().unwrap();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let s2 = stderr.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(err);
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s2.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Process {
            child: Some(child),
            stdout_lines: rx,
            stderr,
        }
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for stderr to contain `needle`.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if self.stderr().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Next stdout line parsed as JSON, waiting up to `timeout`.
    pub fn next_json(&self, timeout: Duration) -> Option<serde_json::Value> {
        let t0 = Instant::now();
        while let Some(left) = timeout.checked_sub(t0.elapsed()) {
            match self.stdout_lines.recv_timeout(left) {
                Ok(l) => {
                    if let Ok(v) = serde_json::from_str(&l) {
                        return Some(v);
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }

    /// Sends SIGINT and waits (bounded) for the exit status; SIGKILL if it hangs.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        // Signal our own child, by its pid.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(st)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(50)); // let the stderr reader drain
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().ok();
        None
    }

    /// Waits (bounded) for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                std::thread::sleep(Duration::from_millis(50));
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}
