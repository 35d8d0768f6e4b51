import Foundation
import MixmaeReports
import TestSupport
import Testing

@Suite struct AxisTicksTests {
    @Test func linearTicksAreRoundAndCoverTheData() {
        let axis = AxisTicks.linear(from: 0.0173, to: 0.981)
        #expect(axis.values == [0, 0.2, 0.4, 0.6, 0.8, 1])
        #expect(axis.labels == ["0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let steps = AxisTicks.linear(from: 9, to: 1234)
        #expect(steps.values == [0, 500, 1000, 1500])
        #expect(steps.labels == ["0", "500", "1000", "1500"])
        let narrow = AxisTicks.linear(from: 1.7906, to: 1.7919)
        #expect(narrow.lower <= 1.7906 && narrow.upper >= 1.7919)
        #expect(narrow.labels.contains("1.7910"), "\(narrow.labels)")
    }

    @Test func aSingleValueGetsARangeAroundIt() {
        let axis = AxisTicks.linear(from: 5, to: 5)
        #expect(axis.lower < 5 && axis.upper > 5)
        let zero = AxisTicks.linear(from: 0, to: 0)
        #expect(zero.lower < 0 && zero.upper > 0)
    }

    @Test func logTicksArePowersOfTenWithTwoAndFiveInNarrowRanges() {
        let wide = AxisTicks.logarithmic(from: 3e-6, to: 4e-4)
        #expect(wide.labels == ["1e-6", "1e-5", "1e-4", "1e-3"])
        let narrow = AxisTicks.logarithmic(from: 1.2e-4, to: 4.5e-4)
        #expect(narrow.labels == ["1e-4", "2e-4", "5e-4", "1e-3"])
        #expect(narrow.values[1] == 2e-4)
    }
}

@Suite struct LineChartTests {
    @Test func oneWellFormedPathPerSeriesWithALegend() throws {
        let chart = LineChart(
            title: "Loss <train> & val", yScale: .linear,
            series: [
                .init(name: "loss", points: (1...5).map { .init(x: Double($0 * 10), y: 1 / Double($0)) }),
                .init(name: "val_loss", points: [.init(x: 50, y: 0.3)]),
            ])
        let svg = try SVGSummary(data: Data(chart.svgDocument().utf8))
        #expect(svg.root == "svg")
        #expect(svg.series == ["loss", "val_loss"])
        #expect(svg.paths.count == 2)
        #expect(svg.paths[0].filter { $0 == "M" }.count == 1 && svg.paths[0].filter { $0 == "L" }.count == 4)
        #expect(svg.circles == 1, "a lone point is drawn as a dot")
        #expect(svg.text.contains("Loss <train> & val"))
        #expect(svg.text.contains("val_loss"))
    }

    @Test func missingValuesBreakTheLineAndLogScaleDropsNonPositiveValues() throws {
        let points: [LineChart.Point] = [1, 2, .nan, 4, 5].enumerated().map {
            .init(x: Double($0.offset), y: $0.element)
        }
        let linear = try SVGSummary(
            data: Data(LineChart(title: "t", series: [.init(name: "a", points: points)]).svgDocument().utf8))
        #expect(linear.paths[0].filter { $0 == "M" }.count == 2)
        let lr: [LineChart.Point] = [0, 1e-4, 5e-4, 2e-4].enumerated().map {
            .init(x: Double($0.offset), y: $0.element)
        }
        let chart = LineChart(title: "lr", yScale: .logarithmic, series: [.init(name: "lr", points: lr)])
        let log = try SVGSummary(data: Data(chart.svgDocument().utf8))
        #expect(log.paths[0].filter { $0 == "M" }.count == 1 && log.paths[0].filter { $0 == "L" }.count == 2)
        #expect(log.text.contains("(log scale)") && log.text.contains("1e-4"))
    }

    @Test func longSeriesAreThinnedButKeepTheirSpikes() throws {
        var points = (0..<100_000).map { LineChart.Point(x: Double($0), y: sin(Double($0) / 1000)) }
        points[54_321].y = 40
        var chart = LineChart(title: "loss", series: [.init(name: "loss", points: points)])
        chart.maxPointsPerSeries = 1000
        let svg = try SVGSummary(data: Data(chart.svgDocument().utf8))
        let vertices = svg.paths[0].filter { $0 == "M" || $0 == "L" }.count
        #expect(vertices <= 1000 && vertices >= 900)
        #expect(svg.text.contains("40"), "the y axis reaches the spike")
        let kept = chart.thinned(points)
        #expect(kept.contains { $0.y == 40 })
        #expect(zip(kept, kept.dropFirst()).allSatisfy { $0.x < $1.x })
    }

    @Test func metricsAreGroupedIntoChartsByFamily() {
        let plan = CurvePlan.charts(for: [
            "loss", "lr", "top1", "top5", "val_loss", "images_per_second", "mAP", "AP50", "mIoU", "aAcc",
            "grad_norm", "val/top1",
        ])
        #expect(
            plan.map(\.file) == [
                "loss", "lr", "accuracy", "detection", "segmentation", "grad_norm", "images_per_second",
            ])
        #expect(plan[0].metrics == ["loss", "val_loss"])
        #expect(plan[1].scale == .logarithmic)
        #expect(plan[2].metrics == ["top1", "top5", "val/top1"])
        #expect(plan[3].metrics == ["AP50", "mAP"])
        #expect(plan[4].metrics == ["aAcc", "mIoU"])
        #expect(Set(plan.flatMap(\.metrics)).count == 12)
    }
}
