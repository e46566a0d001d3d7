package io.edgecnn.demo

import android.Manifest
import android.content.pm.PackageManager
import android.net.Uri
import android.os.Bundle
import android.view.View
import android.widget.AdapterView
import android.widget.ArrayAdapter
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
import androidx.camera.core.UseCaseGroup
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import io.edgecnn.core.CoreException
import io.edgecnn.core.PixelImage
import java.util.Locale
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Live camera classification with edgecnn models, or of an image picked from the gallery: the top-k labels
 * at or above a score threshold, and the inference time, on the CPU (XNNPACK or builtin kernels, 1-4
 * threads), the GPU or NNAPI. The part of the camera picture that is classified is framed on the preview.
 *
 * Threads: all model work (loading, camera frames, picked images) runs on [worker], one thread, so the
 * engine needs no locking; the UI thread only shows results.
 */
class MainActivity : ComponentActivity() {
    private lateinit var preview: PreviewView
    private lateinit var overlay: CropOverlay
    private lateinit var picked: ImageView
    private lateinit var status: TextView
    private lateinit var results: TextView
    private lateinit var timing: TextView
    private lateinit var modelSpinner: Spinner
    private lateinit var backendSpinner: Spinner
    private lateinit var threadsSpinner: Spinner
    private lateinit var topKSpinner: Spinner
    private lateinit var thresholdSpinner: Spinner
    private lateinit var liveButton: Button

    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private val frames = Frames()                       // worker thread only
    private var engine: ModelEngine? = null             // worker thread only
    private var pickedImage: PixelImage? = null         // worker thread only
    private var models: List<String> = emptyList()      // UI thread only
    private var requested: Triple<String, Backend, Int>? = null // UI thread only
    private var analysis: ImageAnalysis? = null         // UI thread only
    @Volatile private var live = true
    @Volatile private var topK = 3
    @Volatile private var minScore = 0f

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else showStatus(getString(R.string.no_camera_permission))
    }
    private val pickImage = registerForActivityResult(ActivityResultContracts.GetContent()) { uri ->
        if (uri != null) classifyPicked(uri) // null when the user backs out of the picker
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        preview = findViewById(R.id.preview)
        overlay = findViewById(R.id.overlay)
        picked = findViewById(R.id.picked)
        status = findViewById(R.id.status)
        results = findViewById(R.id.results)
        timing = findViewById(R.id.timing)
        modelSpinner = findViewById(R.id.model)
        backendSpinner = findViewById(R.id.backend)
        threadsSpinner = findViewById(R.id.threads)
        topKSpinner = findViewById(R.id.top_k)
        thresholdSpinner = findViewById(R.id.threshold)
        liveButton = findViewById(R.id.live)

        models = ModelEngine.listModels(this)
        val adapter = ArrayAdapter(this, android.R.layout.simple_spinner_item, models)
        adapter.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item)
        modelSpinner.adapter = adapter
        threadsSpinner.setSelection(1) // 2 threads
        topKSpinner.setSelection(2)    // top 3
        val onModelChange = onSelected { reloadModel() }
        modelSpinner.onItemSelectedListener = onModelChange
        backendSpinner.onItemSelectedListener = onModelChange
        threadsSpinner.onItemSelectedListener = onModelChange
        val onResultChange = onSelected { readResultOptions() }
        topKSpinner.onItemSelectedListener = onResultChange
        thresholdSpinner.onItemSelectedListener = onResultChange
        findViewById<Button>(R.id.pick).setOnClickListener { pickImage.launch("image/*") }
        liveButton.setOnClickListener { goLive() }

        readResultOptions()
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

    private fun onSelected(action: () -> Unit) = object : AdapterView.OnItemSelectedListener {
        override fun onItemSelected(parent: AdapterView<*>?, view: View?, position: Int, id: Long) = action()
        override fun onNothingSelected(parent: AdapterView<*>?) = Unit
    }

    /** Top-k and the score threshold: read by the worker for the next frame; a picked image is redone now. */
    private fun readResultOptions() {
        topK = topKSpinner.selectedItem.toString().toInt()
        minScore = thresholdSpinner.selectedItem.toString().trimEnd('%', ' ').toFloat() / 100f
        if (!live) worker.execute { classifyPickedNow() }
    }

    /** (Re)builds the interpreter for the chosen model, backend and thread count; problems go on screen. */
    private fun reloadModel() {
        if (models.isEmpty()) {
            showStatus(getString(R.string.no_models))
            return
        }
        val model = models[modelSpinner.selectedItemPosition.coerceIn(0, models.size - 1)]
        val backend = Backend.values()[backendSpinner.selectedItemPosition]
        val threads = threadsSpinner.selectedItem.toString().toInt()
        val wanted = Triple(model, backend, threads)
        if (requested == wanted) return // spinners also fire once when first laid out
        requested = wanted
        showStatus(getString(R.string.loading_model))
        worker.execute {
            engine?.close()
            engine = null
            val message: String = try {
                val e = ModelEngine.load(applicationContext, model, backend, threads)
                engine = e
                e.classifier.contract.warnings.joinToString("\n")
            } catch (e: CoreException) {
                e.message ?: "The model cannot be loaded"
            } catch (e: Exception) {
                "The model cannot be loaded: ${e.message ?: e.javaClass.simpleName}"
            } catch (e: LinkageError) { // a delegate's native library missing on this device
                "${backend.name} is not available on this device: ${e.message ?: e.javaClass.simpleName}"
            }
            val loaded = engine
            val about = loaded?.let { "${it.description} · input ${it.classifier.spec}" } ?: ""
            runOnUiThread {
                showStatus(message)
                timing.text = about
                if (loaded != null) overlay.setAspect(loaded.inputWidth, loaded.inputHeight)
            }
            if (!live) classifyPickedNow()
        }
    }

    /** Binds the camera once the preview is laid out, so that its ViewPort (what it shows) is known. */
    private fun startCamera() {
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener(Runnable {
            try {
                val provider = future.get()
                preview.post(Runnable { bindCamera(provider) })
            } catch (e: Exception) {
                showStatus("Camera unavailable (${e.message ?: e.javaClass.simpleName}): pick an image instead.")
            }
        }, ContextCompat.getMainExecutor(this))
    }

    private fun bindCamera(provider: ProcessCameraProvider) {
        try {
            val previewUseCase = Preview.Builder().build()
            previewUseCase.setSurfaceProvider(preview.surfaceProvider)
            // RGBA frames: core reads them directly (no YUV conversion on the Android side); while the
            // model is busy, older frames are dropped.
            val useCase = ImageAnalysis.Builder()
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .build()
            useCase.setAnalyzer(worker, ImageAnalysis.Analyzer { frame -> analyze(frame) })
            // With the preview's ViewPort each frame's crop rect is exactly what the preview shows, so the
            // framed part of the preview is the part that is classified.
            val group = UseCaseGroup.Builder().addUseCase(previewUseCase).addUseCase(useCase)
            val viewPort = preview.viewPort
            if (viewPort != null) {
                group.setViewPort(viewPort)
            } else {
                showStatus(getString(R.string.no_view_port))
            }
            provider.unbindAll()
            provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, group.build())
            analysis = useCase
        } catch (e: Exception) {
            showStatus("Camera unavailable (${e.message ?: e.javaClass.simpleName}): pick an image instead.")
        }
    }

    /** Worker thread: one camera frame. */
    private fun analyze(frame: ImageProxy) {
        try {
            val e = engine ?: return
            if (!live) return
            val result = e.classify(topK, minScore) { frames.fromImageProxy(frame, e.inputWidth, e.inputHeight) }
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
            val picture = try {
                Pictures.load(contentResolver, uri)
            } catch (e: CoreException) {
                runOnUiThread { showStatus(e.message ?: getString(R.string.picked_image_unreadable)) }
                return@execute
            } catch (e: Exception) { // IOException, SecurityException from the content provider
                runOnUiThread { showStatus(getString(R.string.picked_image_unreadable) + " (" + (e.message ?: e.javaClass.simpleName) + ")") }
                return@execute
            }
            pickedImage = picture.pixels
            val note = if (picture.sampleSize > 1) getString(R.string.picture_subsampled, picture.sampleSize) else ""
            runOnUiThread {
                showStatus(note)
                picked.setImageBitmap(picture.display)
                picked.visibility = View.VISIBLE
                preview.visibility = View.INVISIBLE
                overlay.visibility = View.GONE // the whole picture is classified
            }
            classifyPickedNow()
        }
    }

    /** Worker thread: classify the picked image with the current engine. */
    private fun classifyPickedNow() {
        val image = pickedImage ?: return
        val e = engine ?: return
        try {
            val result = e.classify(topK, minScore) { image }
            runOnUiThread { show(result, e.description) }
        } catch (ex: Exception) {
            runOnUiThread { showStatus(ex.message ?: ex.javaClass.simpleName) }
        }
    }

    private fun goLive() {
        live = true
        liveButton.isEnabled = false
        picked.visibility = View.GONE
        picked.setImageBitmap(null)
        preview.visibility = View.VISIBLE
        overlay.visibility = View.VISIBLE
        results.text = getString(R.string.no_result)
        worker.execute { pickedImage = null }
    }

    private fun show(result: Result, description: String) {
        results.text = if (result.top.isEmpty()) {
            getString(R.string.below_threshold)
        } else {
            result.top.joinToString("\n") { String.format(Locale.ROOT, "%-14s %5.1f %%", it.label, it.score * 100f) }
        }
        timing.text = String.format(Locale.ROOT,
            "Inference time: %.0f ms (preprocessing %.1f ms incl. frame conversion, interpreter %.1f ms) · %s",
            result.totalMs, result.preprocessMs, result.interpreterMs, description)
    }

    private fun showStatus(message: String) {
        status.text = message
        status.visibility = if (message.isEmpty()) View.GONE else View.VISIBLE
    }
}
