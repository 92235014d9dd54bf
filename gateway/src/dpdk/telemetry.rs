//! DPDK telemetry commands of our own (`dpdk-telemetry.py`: `/vxgw/...`), so the
//! tools operators already use for DPDK see the gateway's tables too.
//!
//! A handler is a Rust closure returning a flat dictionary; DPDK's telemetry thread
//! calls it (never a worker). DPDK limits a dictionary to 256 entries and names and
//! string values to 63/127 bytes: longer results are cut there.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::{Mutex, OnceLock};

use super::{DpdkError, Result};

/// A value in a telemetry dictionary.
#[derive(Debug, Clone, PartialEq)]
pub enum TelValue {
    /// An unsigned integer.
    U64(u64),
    /// A string (cut at 127 bytes).
    Str(String),
}

type Handler = Box<dyn Fn(&str) -> Vec<(String, TelValue)> + Send + Sync>;

fn handlers() -> &'static Mutex<HashMap<String, Handler>> {
    static H: OnceLock<Mutex<HashMap<String, Handler>>> = OnceLock::new();
    H.get_or_init(|| Mutex::new(HashMap::new()))
}

fn cut(s: &str, max: usize) -> CString {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    CString::new(s[..end].replace('\0', "")).unwrap_or_default()
}

unsafe extern "C" fn dispatch(
    cmd: *const c_char,
    params: *const c_char,
    info: *mut dpdk_sys::rte_tel_data,
) -> c_int {
    // SAFETY: DPDK passes NUL-terminated strings (params may be NULL).
    let cmd = unsafe { CStr::from_ptr(cmd) }
        .to_string_lossy()
        .into_owned();
    let params = if params.is_null() {
        String::new()
    } else {
        // SAFETY: as above.
        unsafe { CStr::from_ptr(params) }
            .to_string_lossy()
            .into_owned()
    };
    let Ok(map) = handlers().lock() else {
        return -1;
    };
    let Some(h) = map.get(&cmd) else { return -1 };
    let rows = h(&params);
    // SAFETY: info is the telemetry library's output object for this call.
    unsafe { dpdk_sys::rte_tel_data_start_dict(info) };
    for (name, value) in rows
        .into_iter()
        .take(dpdk_sys::RTE_TEL_MAX_DICT_ENTRIES as usize)
    {
        let name = cut(&name, 63);
        match value {
            // SAFETY: info is valid; name is a valid C string copied by DPDK.
            TelValue::U64(v) => unsafe {
                dpdk_sys::rte_tel_data_add_dict_u64(info, name.as_ptr(), v);
            },
            TelValue::Str(s) => {
                let v = cut(&s, dpdk_sys::RTE_TEL_MAX_STRING_LEN as usize - 1);
                // SAFETY: as above; DPDK copies both strings.
                unsafe { dpdk_sys::rte_tel_data_add_dict_string(info, name.as_ptr(), v.as_ptr()) };
            }
        }
    }
    0
}

/// Registers telemetry command `cmd` (e.g. "/vxgw/stats": a leading slash, then
/// letters, digits, '_' and '/'), answered by `f(params)`. Call after EAL init.
pub fn register(
    cmd: &str,
    help: &str,
    f: impl Fn(&str) -> Vec<(String, TelValue)> + Send + Sync + 'static,
) -> Result<()> {
    let ok = cmd.starts_with('/')
        && cmd.len() < 64
        && cmd[1..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/');
    if !ok {
        return Err(DpdkError::InvalidArgument(format!(
            "telemetry command '{cmd}'"
        )));
    }
    handlers()
        .lock()
        .map_err(|_| DpdkError::Unsupported("telemetry registry poisoned".into()))?
        .insert(cmd.to_string(), Box::new(f));
    // DPDK keeps the pointers: the strings live for the whole process.
    let c_cmd: &'static CStr = Box::leak(cut(cmd, 63).into_boxed_c_str());
    let c_help: &'static CStr = Box::leak(cut(help, 127).into_boxed_c_str());
    // SAFETY: both strings are 'static and NUL-terminated; `dispatch` matches the
    // telemetry_cb signature.
    let ret = unsafe {
        dpdk_sys::rte_telemetry_register_cmd(c_cmd.as_ptr(), Some(dispatch), c_help.as_ptr())
    };
    super::error::check("rte_telemetry_register_cmd", ret).map(|_| ())
}
