import MixmaeData

/// libFuzzer's entry point: the COCO instances and results readers on one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = DataReaderFuzzing.coco(bytes)
    return 0
}
