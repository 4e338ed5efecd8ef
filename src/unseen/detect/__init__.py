"""Face detectors behind one narrow interface: `Detector.detect(rgb) -> Detections`."""
