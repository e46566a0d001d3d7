package io.edgecnn.demo

import android.Manifest
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.net.Uri
import android.os.Bundle
import android.view.View
import android.widget.AdapterView
import android.widget.Button
import android.widget.ImageView
import android.widget.Spinner
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.result.contract.ActivityResultContracts
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import io.edgecnn.core.CoreException
import io.edgecnn.core.PixelImage
import java.util.Locale
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Live camera classification with an edgecnn model, or of an image picked from the gallery: top-3 labels,
 * scores and inference time, on the CPU (XNNPACK or builtin kernels, 1-4 threads), the GPU or NNAPI.
 *
 * Threads: all model work (loading, camera frames, picked images) runs on [worker], one thread, so the
 * engine needs no locking; the UI thread only shows results.
 */
class MainActivity : ComponentActivity() {
    private lateinit var preview: PreviewView
    private lateinit var picked: ImageView
    private lateinit var status: TextView
    private lateinit var results: TextView
    private lateinit var timing: TextView
    private lateinit var backendSpinner: Spinner
    private lateinit var threadsSpinner: Spinner
    private lateinit var liveButton: Button

    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private var engine: ModelEngine? = null          // worker thread only
    private var pickedImage: PixelImage? = null      // worker thread only
    private var requested: Pair<Backend, Int>? = null // UI thread only
    private var analysis: ImageAnalysis? = null         // UI thread only
    @Volatile private var live = true

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else showStatus(getString(R.string.no_camera_permission))
    }
    private val pickImage = registerForActivityResult(ActivityResultContracts.GetContent()) { uri ->
        if (uri != null) classifyPicked(uri)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        preview = findViewById(R.id.preview)
        picked = findViewById(R.id.picked)
        status = findViewById(R.id.status)
        results = findViewById(R.id.results)
        timing = findViewById(R.id.timing)
        backendSpinner = findViewById(R.id.backend)
        threadsSpinner = findViewById(R.id.threads)
        liveButton = findViewById(R.id.live)

        threadsSpinner.setSelection(1) // 2 threads
        val onChange = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>?, view: View?, position: Int, id: Long) = reloadModel()
            override fun onNothingSelected(parent: AdapterView<*>?) = Unit
        }
        backendSpinner.onItemSelectedListener = onChange
        threadsSpinner.onItemSelectedListener = onChange
        findViewById<Button>(R.id.pick).setOnClickListener { pickImage.launch("image/*") }
        liveButton.setOnClickListener { goLive() }

        reloadModel()
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera()
        } else {
            askCamera.launch(Manifest.permission.CAMERA)
        }
    }

    override fun onDestroy() {
        analysis?.clearAnalyzer() // no more frames for the worker, which is shut down next
        super.onDestroy()
        worker.execute {
            engine?.close()
            engine = null
        }
        worker.shutdown()
    }

    /** (Re)builds the interpreter for the chosen backend and thread count; problems go on screen. */
    private fun reloadModel() {
        val backend = Backend.values()[backendSpinner.selectedItemPosition]
        val threads = threadsSpinner.selectedItem.toString().toInt()
        if (requested == backend to threads) return // spinners also fire once when first laid out
        requested = backend to threads
        status.visibility = View.VISIBLE
        status.text = getString(R.string.loading_model)
        worker.execute {
            engine?.close()
            engine = null
            val message: String = try {
                val e = ModelEngine.load(applicationContext, backend, threads)
                engine = e
                e.classifier.contract.warnings.joinToString("\n")
            } catch (e: CoreException) {
                e.message ?: "The model cannot be loaded"
            } catch (e: Exception) {
                "The model cannot be loaded: ${e.message ?: e.javaClass.simpleName}"
            } catch (e: LinkageError) { // a delegate's native library missing on this device
                "${backend.name} is not available on this device: ${e.message ?: e.javaClass.simpleName}"
            }
            val about = engine?.let { "${it.description} · input ${it.classifier.spec}" } ?: ""
            runOnUiThread {
                showStatus(message)
                timing.text = about
            }
            if (!live) classifyPickedNow()
        }
    }

    private fun startCamera() {
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener(Runnable {
            try {
                val provider = future.get()
                val previewUseCase = Preview.Builder().build()
                previewUseCase.setSurfaceProvider(preview.surfaceProvider)
                // RGBA frames: core reads them directly (no YUV conversion on the Android side); while the
                // model is busy, older frames are dropped.
                val useCase = ImageAnalysis.Builder()
                    .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                    .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                    .build()
                useCase.setAnalyzer(worker, ImageAnalysis.Analyzer { frame -> analyze(frame) })
                provider.unbindAll()
                provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, previewUseCase, useCase)
                analysis = useCase
            } catch (e: Exception) {
                showStatus("Camera unavailable (${e.message ?: e.javaClass.simpleName}): pick an image instead.")
            }
        }, ContextCompat.getMainExecutor(this))
    }

    /** Worker thread: one camera frame. */
    private fun analyze(frame: ImageProxy) {
        try {
            val e = engine ?: return
            if (!live) return
            val result = e.classify(Frames.fromImageProxy(frame))
            runOnUiThread { if (live) show(result, e.description) }
        } catch (ex: Exception) {
            runOnUiThread { showStatus(ex.message ?: ex.javaClass.simpleName) }
        } finally {
            frame.close()
        }
    }

    private fun classifyPicked(uri: Uri) {
        live = false
        liveButton.isEnabled = true
        worker.execute {
            val bitmap = try {
                decode(uri)
            } catch (e: Exception) {
                null
            }
            if (bitmap == null) {
                runOnUiThread { showStatus(getString(R.string.picked_image_unreadable)) }
                return@execute
            }
            pickedImage = try {
                Frames.fromBitmap(bitmap)
            } catch (e: CoreException) {
                runOnUiThread { showStatus(e.message ?: getString(R.string.picked_image_unreadable)) }
                null
            }
            runOnUiThread {
                picked.setImageBitmap(bitmap)
                picked.visibility = View.VISIBLE
                preview.visibility = View.INVISIBLE
            }
            classifyPickedNow()
        }
    }

    /** Worker thread: classify the picked image with the current engine. */
    private fun classifyPickedNow() {
        val image = pickedImage ?: return
        val e = engine ?: return
        try {
            val result = e.classify(image)
            runOnUiThread { show(result, e.description) }
        } catch (ex: Exception) {
            runOnUiThread { showStatus(ex.message ?: ex.javaClass.simpleName) }
        }
    }

    /**
     * Decodes the whole picture without premultiplying alpha (edgecnn drops alpha and keeps the colour values);
     * only very large photos are subsampled, to stay within memory.
     */
    private fun decode(uri: Uri): Bitmap? {
        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        contentResolver.openInputStream(uri)?.use { BitmapFactory.decodeStream(it, null, bounds) } ?: return null
        var sample = 1
        while (bounds.outWidth / sample > 4096 || bounds.outHeight / sample > 4096) sample *= 2
        val options = BitmapFactory.Options().apply {
            inPreferredConfig = Bitmap.Config.ARGB_8888
            inPremultiplied = false
            inSampleSize = sample
        }
        return contentResolver.openInputStream(uri)?.use { BitmapFactory.decodeStream(it, null, options) }
    }

    private fun goLive() {
        live = true
        liveButton.isEnabled = false
        picked.visibility = View.GONE
        preview.visibility = View.VISIBLE
        results.text = getString(R.string.no_result)
        worker.execute { pickedImage = null }
    }

    private fun show(result: Result, description: String) {
        results.text = result.top.joinToString("\n") {
            String.format(Locale.ROOT, "%-14s %5.1f %%", it.label, it.score * 100f)
        }
        timing.text = String.format(Locale.ROOT, "inference %.1f ms · preprocessing %.1f ms · %s",
            result.inferenceMs, result.preprocessMs, description)
    }

    private fun showStatus(message: String) {
        status.text = message
        status.visibility = if (message.isEmpty()) View.GONE else View.VISIBLE
    }
}
