package io.edgecnn.demo

import android.content.Context
import android.os.Build
import android.os.SystemClock
import io.edgecnn.core.Classifier
import io.edgecnn.core.CoreException
import io.edgecnn.core.DType
import io.edgecnn.core.PixelImage
import io.edgecnn.core.Prediction
import io.edgecnn.core.PreprocessSpec
import io.edgecnn.core.Quantization
import io.edgecnn.core.TensorInfo
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Delegate
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import org.tensorflow.lite.nnapi.NnApiDelegate
import java.io.Closeable
import java.io.FileInputStream
import java.io.FileNotFoundException
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/** Where the model runs. */
enum class Backend { XNNPACK, CPU, GPU, NNAPI }

/**
 * One classification: the top-k at or above the score threshold, and its times in milliseconds.
 * [totalMs] is what the official LiteRT/TFLite classification samples show as "inference time": from the
 * start of classify to the results, input preparation included. Here it also includes turning the camera
 * frame into RGB, upright and cropped, so it is the time the user waits for. [preprocessMs] is that input
 * preparation, [interpreterMs] `Interpreter.run` alone.
 */
data class Result(val top: List<Prediction>, val preprocessMs: Double, val interpreterMs: Double, val totalMs: Double)

/**
 * The interpreter and the core [Classifier] of one model, built from its asset folder
 * (assets/models/NAME/ with model.tflite, labels.txt and preprocess.json, as `edgecnn export android`
 * writes it). Everything except running the interpreter is done by core; this class only moves bytes in
 * and out. Not thread-safe: use from one thread.
 */
class ModelEngine private constructor(
    private val interpreter: Interpreter,
    private val delegate: Delegate?,
    val classifier: Classifier,
    val description: String
) : Closeable {
    private val input: ByteBuffer = ByteBuffer.allocateDirect(classifier.input.byteSize()).order(ByteOrder.nativeOrder())
    private val output: ByteBuffer = ByteBuffer.allocateDirect(classifier.output.byteSize()).order(ByteOrder.nativeOrder())
    private val outputBytes = ByteArray(classifier.output.byteSize())

    /** The model's input width and height, for cropping camera frames to the same aspect ratio. */
    val inputWidth: Int get() = classifier.spec.width
    val inputHeight: Int get() = classifier.spec.height

    /** Classifies the image [prepare] returns (the frame conversion it does is timed as preprocessing). */
    fun classify(topK: Int, minScore: Float, prepare: () -> PixelImage): Result {
        val t0 = SystemClock.elapsedRealtimeNanos()
        val bytes = classifier.inputBytes(prepare()) // little-endian float32, or int8/uint8 with the model's quantisation
        input.clear()
        input.put(bytes)
        input.rewind()
        output.clear()
        val t1 = SystemClock.elapsedRealtimeNanos()
        interpreter.run(input, output)
        val t2 = SystemClock.elapsedRealtimeNanos()
        output.rewind()
        output.get(outputBytes)
        val top = classifier.top(outputBytes, topK, minScore)
        val t3 = SystemClock.elapsedRealtimeNanos()
        return Result(top, (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t0) / 1e6)
    }

    override fun close() {
        interpreter.close()
        delegate?.close() // after the interpreter that uses it
    }

    companion object {
        const val MODELS = "models"
        const val MODEL = "model.tflite"
        const val PREPROCESS = "preprocess.json"
        private const val HINT = "put a model in with: edgecnn export android NAME --assets android_demo/app/src/main/assets"

        /** The models in the app's assets (folders under models/), sorted; empty when there are none. */
        fun listModels(context: Context): List<String> = try {
            context.assets.list(MODELS)?.filter { !it.startsWith(".") }?.sorted() ?: emptyList()
        } catch (e: IOException) {
            emptyList()
        }

        /** Loads a model's assets and builds the interpreter. Every failure becomes a [CoreException] with a readable message. */
        @Throws(CoreException::class)
        fun load(context: Context, model: String, backend: Backend, threads: Int): ModelEngine {
            // Core relies on this when it writes float32 inputs; every Android ABI is little-endian.
            check(ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN)
            val folder = "$MODELS/$model"
            val preprocess = readText(context, "$folder/$PREPROCESS")
            // preprocess.json names its labels file (edgecnn export writes labels.txt).
            val labelsName = try {
                PreprocessSpec.parse(preprocess).labels
            } catch (e: CoreException) {
                throw CoreException("assets/$folder/$PREPROCESS: ${e.message}")
            }
            val labels = readText(context, "$folder/$labelsName")
            val modelBuffer = mapModel(context, "$folder/$MODEL")
            var delegate: Delegate? = null
            val interpreter = try {
                val options = Interpreter.Options().setNumThreads(threads)
                when (backend) {
                    Backend.XNNPACK -> options.setUseXNNPACK(true)
                    Backend.CPU -> options.setUseXNNPACK(false)
                    Backend.GPU -> {
                        // The compatibility list holds a native handle: closed as soon as it has answered.
                        val gpuOptions = CompatibilityList().use { compat ->
                            if (!compat.isDelegateSupportedOnThisDevice) {
                                throw CoreException("The GPU delegate does not support this device's GPU; choose CPU")
                            }
                            compat.bestOptionsForThisDevice
                        }
                        val gpu = GpuDelegate(gpuOptions)
                        delegate = gpu
                        options.addDelegate(gpu)
                    }
                    Backend.NNAPI -> {
                        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.O_MR1) {
                            throw CoreException("NNAPI needs Android 8.1 or newer; choose CPU")
                        }
                        val nnapi = NnApiDelegate()
                        delegate = nnapi
                        options.addDelegate(nnapi)
                    }
                }
                Interpreter(modelBuffer, options)
            } catch (e: CoreException) {
                delegate?.close()
                throw e
            } catch (e: Exception) {
                // e.g. "The model is not a valid Flatbuffer buffer", an op the runtime lacks, a delegate failure.
                delegate?.close()
                throw CoreException("assets/$folder/$MODEL cannot be loaded on ${backend.name}: " +
                    (e.message ?: e.javaClass.simpleName), e)
            }
            try {
                interpreter.allocateTensors()
                val classifier = Classifier.create(preprocess, labels,
                    info(interpreter.getInputTensor(0), "input"), info(interpreter.getOutputTensor(0), "output"))
                val what = when (backend) {
                    Backend.XNNPACK -> "CPU + XNNPACK, $threads thread(s)"
                    Backend.CPU -> "CPU builtin kernels, $threads thread(s)"
                    Backend.GPU -> "GPU delegate"
                    Backend.NNAPI -> "NNAPI delegate"
                }
                return ModelEngine(interpreter, delegate, classifier, "$model · $what")
            } catch (e: Exception) {
                interpreter.close()
                delegate?.close()
                throw e as? CoreException ?: CoreException("assets/$folder/$MODEL: ${e.message ?: e.javaClass.simpleName}", e)
            }
        }

        private fun info(tensor: Tensor, what: String): TensorInfo {
            val dtype = when (tensor.dataType()) {
                DataType.FLOAT32 -> DType.FLOAT32
                DataType.INT8 -> DType.INT8
                DataType.UINT8 -> DType.UINT8
                else -> throw CoreException("the model's $what is ${tensor.dataType()}; this app handles float32, int8 and uint8")
            }
            val q = tensor.quantizationParams()
            val quant = if (dtype.isQuantized && q.scale > 0f) Quantization(q.scale.toDouble(), q.zeroPoint) else null
            return TensorInfo(tensor.shape(), dtype, quant)
        }

        private fun readText(context: Context, path: String): String = try {
            context.assets.open(path).use { it.readBytes().toString(Charsets.UTF_8) }
        } catch (e: FileNotFoundException) {
            throw CoreException("assets/$path is missing: $HINT")
        } catch (e: IOException) {
            throw CoreException("assets/$path cannot be read: ${e.message}")
        }

        /** The model memory-mapped from the APK (stored uncompressed, see build.gradle.kts), else read into memory. */
        private fun mapModel(context: Context, path: String): ByteBuffer {
            try {
                context.assets.openFd(path).use { fd ->
                    if (fd.declaredLength == 0L) throw CoreException("assets/$path is empty: $HINT")
                    FileInputStream(fd.fileDescriptor).use { stream ->
                        val mapped: MappedByteBuffer =
                            stream.channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                        return mapped
                    }
                }
            } catch (e: FileNotFoundException) {
                // openFd also fails for compressed assets: fall back to reading the bytes.
                val bytes = try {
                    context.assets.open(path).use { it.readBytes() }
                } catch (e2: FileNotFoundException) {
                    throw CoreException("assets/$path is missing: $HINT")
                }
                if (bytes.isEmpty()) throw CoreException("assets/$path is empty: $HINT")
                return ByteBuffer.allocateDirect(bytes.size).order(ByteOrder.nativeOrder()).put(bytes).also { it.rewind() }
            } catch (e: IOException) {
                throw CoreException("assets/$path cannot be read: ${e.message}")
            }
        }
    }
}
