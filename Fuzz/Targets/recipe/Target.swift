import MixmaeRecipes

/// libFuzzer's entry point: the recipe loader (YAML, bases, overrides, schema check) on one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = RecipeFuzzing.run(bytes)
    return 0
}
