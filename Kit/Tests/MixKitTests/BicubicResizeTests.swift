import Foundation
import MixKit
import MixKitTesting
import Testing

/// `bicubicResize` against PyTorch's `F.interpolate(mode="bicubic")` on the
/// relative-position-bias tables of `../shared/fixtures/interp/rpb.safetensors`.
@Suite struct BicubicResizeTests {
    static let fixture = SharedInputs.path + "/fixtures/interp/rpb.safetensors"

    @Test(arguments: ["w14_to_w12", "w14_to_w24", "w7_to_w14"])
    func matchesPyTorchOnBiasTables(case name: String) throws {
        let file = try SafeTensorsFile(path: Self.fixture)
        let input = try file.tensor("\(name).input")
        let expected = try file.tensor("\(name).expected")
        let (from, heads) = (Int(Double(input.shape[0]).squareRoot()), input.shape[1])
        let to = Int(Double(expected.shape[0]).squareRoot())
        let planes = input.transposed().reshaped([1, heads, from, from])
        let resized = bicubicResize(planes, height: to, width: to).reshaped([heads, to * to]).transposed()
        #expect(resized.shape == expected.shape)
        // Relative to the table's scale. The float rounding of PyTorch's kernel is not
        // reproduced exactly: the worst case is 1.18e-6 (w7_to_w14), and the exact
        // (double precision) result is as far from PyTorch's (1.1e-6 to 2.1e-6).
        let scale = expected.scalars.map(abs).max() ?? 1
        let worst = (zip(resized.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0) / max(scale, 1)
        #expect(worst <= 1.5e-6, "\(name): difference \(worst) of the table's scale")
    }

    /// The same size is a copy; a constant stays constant (the weights sum to 1).
    @Test func identityAndConstant() {
        let x = Tensor(shape: [2, 3, 4], scalars: (0..<24).map { Float($0) * 0.5 })
        #expect(bicubicResize(x, height: 3, width: 4).scalars == x.scalars)
        let constant = Tensor(shape: [1, 5, 5], scalars: Array(repeating: 2.5, count: 25))
        let up = bicubicResize(constant, height: 9, width: 7)
        #expect(up.shape == [1, 9, 7])
        #expect(up.scalars.allSatisfy { abs($0 - 2.5) < 1e-5 })
    }
}
