import MixKit

/// libFuzzer's entry point: the PyTorch checkpoint reader (zip or legacy, pickle, storages) on one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = ReaderFuzzing.pyTorch(bytes)
    return 0
}
