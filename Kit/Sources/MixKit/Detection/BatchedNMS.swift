extension NonMaximumSuppression {
    /// mmcv's `batched_nms` with `nms` (offset 0): NMS within each group
    /// (class for detections, feature level for RPN proposals), never across.
    ///
    /// As mmcv does it: every box is shifted by `group * (max coordinate + 1)`
    /// (float32) so that boxes of different groups cannot overlap, then one
    /// greedy NMS runs over all boxes by descending score (equal scores in input
    /// order): a box is dropped when `intersection / (area_i + area_j - intersection)`
    /// with a kept box is strictly above `iouThreshold`. Returns the kept indices,
    /// highest score first; with `maxCount`, only the first `maxCount` of them
    /// (mmdet's `max_per_img`; the rest would not change them, so the search stops there).
    ///
    /// ```swift
    /// let keep = NonMaximumSuppression.batched(
    ///     boxes: proposals, scores: objectness, groups: levelOfProposal, iouThreshold: 0.7, maxCount: 1000)
    /// ```
    public static func batched(
        boxes: [BoundingBox], scores: [Float], groups: [Int], iouThreshold: Float, maxCount: Int? = nil
    ) -> [Int] {
        precondition(
            boxes.count == scores.count && boxes.count == groups.count,
            "batched NMS: \(boxes.count) boxes, \(scores.count) scores and \(groups.count) groups")
        let n = boxes.count
        let limit = maxCount.map { max($0, 0) } ?? n
        guard n > 0, limit > 0 else { return [] }
        var maxCoordinate = -Float.infinity
        for b in boxes { maxCoordinate = max(maxCoordinate, b.x1, b.y1, b.x2, b.y2) }
        let shifted = zip(boxes, groups).map { box, group -> BoundingBox in
            let offset = Float(group) * (maxCoordinate + 1)
            return BoundingBox(x1: box.x1 + offset, y1: box.y1 + offset, x2: box.x2 + offset, y2: box.y2 + offset)
        }
        let order = (0..<n).sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        let areas = shifted.map { ($0.x2 - $0.x1) * ($0.y2 - $0.y1) }
        var suppressed = [Bool](repeating: false, count: n)
        var kept: [Int] = []
        for position in 0..<n where !suppressed[position] {
            let i = order[position]
            kept.append(i)
            if kept.count == limit { break }
            let a = shifted[i]
            for later in (position + 1)..<n where !suppressed[later] {
                let b = shifted[order[later]]
                let w = max(0, min(a.x2, b.x2) - max(a.x1, b.x1))
                let h = max(0, min(a.y2, b.y2) - max(a.y1, b.y1))
                let intersection = w * h
                if intersection / (areas[i] + areas[order[later]] - intersection) > iouThreshold {
                    suppressed[later] = true
                }
            }
        }
        return kept
    }
}
