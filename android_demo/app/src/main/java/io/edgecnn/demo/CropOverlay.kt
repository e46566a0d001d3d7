package io.edgecnn.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Paint
import android.util.AttributeSet
import android.view.View
import io.edgecnn.core.Region

/**
 * The frame drawn over the camera preview around what the model classifies. With the preview's ViewPort
 * (MainActivity) the analysed frames are cropped to exactly what the preview shows, so the classified part,
 * the largest centred region of the model's aspect ratio, is that same region of this view.
 */
class CropOverlay(context: Context, attrs: AttributeSet?) : View(context, attrs) {
    private val paint = Paint().apply {
        style = Paint.Style.STROKE
        color = 0xFFFFD600.toInt()
    }
    private var aspectWidth = 1
    private var aspectHeight = 1

    /** The model's input width and height (only their ratio matters). */
    fun setAspect(width: Int, height: Int) {
        aspectWidth = width
        aspectHeight = height
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        if (width < 1 || height < 1) return
        val r = Region.centered(width, height, aspectWidth, aspectHeight)
        paint.strokeWidth = maxOf(2f, minOf(width, height) / 160f)
        val half = paint.strokeWidth / 2
        canvas.drawRect(r.left + half, r.top + half, r.left + r.width - half, r.top + r.height - half, paint)
    }
}
