package io.edgecnn.demo

import androidx.camera.core.ImageProxy
import io.edgecnn.core.FrameConverter
import io.edgecnn.core.PixelImage
import io.edgecnn.core.Region

/**
 * Camera frames → core's packed RGB: the part of the frame the preview shows (its crop rect), cropped to
 * the model's aspect ratio and turned upright by core in one pass. The plane copy and the converted pixels
 * live in buffers kept from frame to frame. Use from one thread (the analysis worker).
 */
class Frames {
    private val converter = FrameConverter()
    private var plane = ByteArray(0)

    /** A CameraX frame in RGBA_8888 (see MainActivity's ImageAnalysis); valid until the next call. */
    fun fromImageProxy(image: ImageProxy, aspectWidth: Int, aspectHeight: Int): PixelImage {
        val rgba = image.planes[0]
        val buffer = rgba.buffer
        buffer.rewind()
        if (plane.size != buffer.remaining()) plane = ByteArray(buffer.remaining())
        buffer.get(plane)
        val crop = image.cropRect
        return converter.convert(plane, image.width, image.height, rgba.rowStride, rgba.pixelStride,
            Region(crop.left, crop.top, crop.width(), crop.height()), image.imageInfo.rotationDegrees,
            aspectWidth, aspectHeight)
    }
}
