import MixmaeData

/// libFuzzer's entry point: the PNG decoder in every mode on one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = DataReaderFuzzing.png(bytes)
    return 0
}
