//! Generates the gRPC code of `proto/link.proto` with a vendored `protoc` (no install step),
//! unless `PROTOC` names one.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = tonic_prost_build::Config::new();
    if std::env::var_os("PROTOC").is_none() {
        config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    }
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // A chunk's bytes are slices of the encoded batch when sent and of gRPC's receive
        // buffer when received, not copies.
        .bytes(".tfe.link.Chunk.data")
        .compile_with_config(config, &["proto/link.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto/link.proto");
    Ok(())
}
