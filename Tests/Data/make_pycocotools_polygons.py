# Makes pycocotools_polygons.json (RunLengthMaskTests.randomPolygonsEqualPycocotools):
# python3 -m venv /tmp/venv && /tmp/venv/bin/pip install pycocotools numpy
# /tmp/venv/bin/python Tests/Data/make_pycocotools_polygons.py   (pycocotools 2.0.11 made the committed file)
import numpy as np, pycocotools.mask as M, json
rng = np.random.default_rng(15)
cases = []
for i in range(60):
    h, w = int(rng.integers(5, 90)), int(rng.integers(5, 90))
    parts = []
    for p in range(int(rng.integers(1, 4))):
        k = int(rng.integers(3, 9))
        cx, cy = rng.uniform(-8, w + 8), rng.uniform(-8, h + 8)
        r = rng.uniform(0.3, max(h, w) * 0.7)
        ang = np.sort(rng.uniform(0, 2 * np.pi, k)) if rng.random() < 0.7 else rng.uniform(0, 2*np.pi, k)
        rad = r * rng.uniform(0.2, 1.0, k)
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
        pts = np.round(pts * 2) / 2 if rng.random() < 0.3 else np.round(pts, 2)
        if rng.random() < 0.15: pts[1] = pts[0]
        parts.append([float(v) for v in pts.reshape(-1)])
    rles = M.frPyObjects(parts, h, w)
    merged = M.merge(rles); inter = M.merge(rles, intersect=1)
    cases.append({'size': [h, w], 'polygons': parts, 'union': merged['counts'].decode(), 'intersection': inter['counts'].decode(),
                  'area': int(M.area(merged)), 'bbox': M.toBbox(merged).tolist(),
                  'iou': M.iou(rles, [merged], [0]).reshape(-1).tolist(), 'iou_crowd': M.iou(rles, [merged], [1]).reshape(-1).tolist()})
s = json.dumps({'made_with': 'pycocotools 2.0.11: frPyObjects(polygons, h, w), merge (union, intersect=1), area, toBbox of the union, iou(parts, [union], [0]) and with iscrowd [1]', 'cases': cases}, separators=(',', ':'))
open(__file__.replace('make_pycocotools_polygons.py', 'pycocotools_polygons.json'), 'w').write(s + '\n')
print(len(s))
