import MixKit

/// libFuzzer's entry point: the safetensors reader on one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = ReaderFuzzing.safeTensors(bytes)
    return 0
}
