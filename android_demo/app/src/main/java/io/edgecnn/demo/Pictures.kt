package io.edgecnn.demo

import android.content.ContentResolver
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.net.Uri
import androidx.exifinterface.media.ExifInterface
import io.edgecnn.core.CoreException
import io.edgecnn.core.DecodeBudget
import io.edgecnn.core.PixelImage
import java.io.FileNotFoundException
import java.io.IOException
import java.io.InputStream

/** A picked picture: the pixels the model gets and a small premultiplied bitmap for the screen. */
class Picture(val pixels: PixelImage, val display: Bitmap, val sampleSize: Int)

/**
 * Gallery pictures, read as `edgecnn predict` reads the file: the whole image, upright by its EXIF
 * orientation, alpha dropped and colours as stored (not premultiplied). Very large pictures are decoded
 * subsampled so that they fit in memory; those are then classified at the reduced size.
 */
object Pictures {
    private const val BAND_ROWS = 64      // rows read from the bitmap at a time into one reused IntArray
    private const val DISPLAY_SIDE = 1280 // the screen needs no more than this
    private const val BYTES_PER_PIXEL = 7 // the decoded ARGB bitmap (4) and core's RGB copy (3)

    /** Decodes a picked picture; every failure, out of memory included, becomes a [CoreException] for the screen. */
    @Throws(CoreException::class)
    fun load(resolver: ContentResolver, uri: Uri): Picture {
        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        open(resolver, uri).use { BitmapFactory.decodeStream(it, null, bounds) }
        val width = bounds.outWidth
        val height = bounds.outHeight
        if (width <= 0 || height <= 0) throw CoreException("That file is not a picture Android can decode")
        // A quarter of the app's heap for the picture: the rest stays for the interpreter and the UI.
        val sample = DecodeBudget.sampleSize(width, height, Runtime.getRuntime().maxMemory() / 4, BYTES_PER_PIXEL)
        val options = BitmapFactory.Options().apply {
            inPreferredConfig = Bitmap.Config.ARGB_8888
            inPremultiplied = false // edgecnn keeps the stored colour values of transparent pixels
            inSampleSize = sample
        }
        try {
            val bitmap = open(resolver, uri).use { BitmapFactory.decodeStream(it, null, options) }
                ?: throw CoreException("That picture could not be decoded")
            val stored = try {
                readRgb(bitmap)
            } finally {
                bitmap.recycle() // views refuse to draw it anyway (not premultiplied); the pixels are copied
            }
            val upright = stored.orient(orientation(resolver, uri))
            // The screen gets a small copy made from the pixels the model sees: createBitmap premultiplies.
            val shown = upright.toDisplay(DISPLAY_SIDE)
            val display = Bitmap.createBitmap(shown.argb, shown.width, shown.height, Bitmap.Config.ARGB_8888)
            return Picture(upright, display, sample)
        } catch (e: OutOfMemoryError) {
            throw CoreException("The picture (${width}x$height) is too large for this phone's memory")
        }
    }

    private fun open(resolver: ContentResolver, uri: Uri): InputStream = try {
        resolver.openInputStream(uri)
    } catch (e: FileNotFoundException) {
        null
    } ?: throw CoreException("The picture cannot be opened")

    /** The EXIF orientation tag (1-8), or 1 when there is none or it cannot be read, as edgecnn does. */
    private fun orientation(resolver: ContentResolver, uri: Uri): Int = try {
        open(resolver, uri).use {
            ExifInterface(it).getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL)
        }
    } catch (e: IOException) {
        ExifInterface.ORIENTATION_NORMAL
    }

    /** The bitmap's pixels as packed RGB, read a band of rows at a time (no second full-size IntArray). */
    private fun readRgb(bitmap: Bitmap): PixelImage {
        val w = bitmap.width
        val h = bitmap.height
        val rgb = ByteArray(w * h * 3)
        val band = IntArray(w * minOf(BAND_ROWS, h))
        var y = 0
        while (y < h) {
            val rows = minOf(BAND_ROWS, h - y)
            bitmap.getPixels(band, 0, w, 0, y, w, rows)
            PixelImage.argbToRgb(band, w * rows, rgb, y * w * 3)
            y += rows
        }
        return PixelImage(w, h, 3, rgb)
    }
}
