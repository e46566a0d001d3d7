package io.edgecnn.demo

import android.graphics.Bitmap
import androidx.camera.core.ImageProxy
import io.edgecnn.core.PixelImage

/**
 * The only image code on the Android side: turn a camera frame or a bitmap into core's packed RGB bytes.
 * Channel conversion, resizing and normalisation are core's job (the same as edgecnn's Python code).
 */
object Frames {
    /** A CameraX frame in RGBA_8888 (see MainActivity's ImageAnalysis), upright and cropped to its centre square. */
    fun fromImageProxy(image: ImageProxy): PixelImage {
        val plane = image.planes[0]
        val buffer = plane.buffer
        buffer.rewind()
        val bytes = ByteArray(buffer.remaining())
        buffer.get(bytes)
        return PixelImage.fromRgba(bytes, image.width, image.height, plane.rowStride, plane.pixelStride)
            .rotate(image.imageInfo.rotationDegrees)
            .centerSquare()
    }

    /** A decoded gallery image (any config; read back as ARGB), the whole picture as edgecnn would load the file. */
    fun fromBitmap(bitmap: Bitmap): PixelImage {
        val argb = IntArray(bitmap.width * bitmap.height)
        bitmap.getPixels(argb, 0, bitmap.width, 0, 0, bitmap.width, bitmap.height)
        return PixelImage.fromArgb(argb, bitmap.width, bitmap.height)
    }
}
