//! The `bench` interface over [`crate::bench`].

use crate::wit::exports::agentcell::core::bench;
use crate::wit::{wit_result, wit_types, Component};

impl bench::Guest for Component {
    fn noop() {}
    fn blob_in(data: String) -> Result<(u32, u32), wit_types::Error> {
        wit_result(crate::bench::blob_in(&data))
    }
    fn blob_out(len: u32, seed: u32) -> String {
        crate::bench::blob_out(len, seed)
    }
    fn bytes_in(data: Vec<u8>) -> (u32, u32) {
        crate::bench::checksum(&data)
    }
    fn bytes_out(len: u32, seed: u32) -> Vec<u8> {
        crate::bench::pattern(len, seed)
    }
    fn sum_f32_blob(data: String) -> Result<f32, wit_types::Error> {
        wit_result(crate::bench::sum_f32_blob(&data))
    }
    fn sum_f32_list(data: Vec<f32>) -> f32 {
        crate::bench::sum_f32(&data)
    }
    fn text_len(data: String) -> u32 {
        data.len() as u32
    }
}
