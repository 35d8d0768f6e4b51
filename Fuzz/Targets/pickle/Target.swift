import MixKit

/// libFuzzer's entry point: the pickle machine alone on one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = ReaderFuzzing.pickle(bytes)
    return 0
}
