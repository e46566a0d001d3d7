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

/** One classification: top-3, and the time spent preparing the input and running the model. */
data class Result(val top: List<Prediction>, val preprocessMs: Double, val inferenceMs: Double)

/**
 * The interpreter and the core [Classifier], built from the app's assets (model.tflite, labels.txt,
 * preprocess.json as `edgecnn export android` writes them). Everything except running the interpreter is
 * done by core; this class only moves bytes in and out. Not thread-safe: use from one thread.
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

    fun classify(image: PixelImage): Result {
        val t0 = SystemClock.elapsedRealtimeNanos()
        val bytes = classifier.inputBytes(image) // little-endian float32, or int8/uint8 with the model's quantisation
        input.clear()
        input.put(bytes)
        input.rewind()
        output.clear()
        val t1 = SystemClock.elapsedRealtimeNanos()
        interpreter.run(input, output)
        val t2 = SystemClock.elapsedRealtimeNanos()
        output.rewind()
        output.get(outputBytes)
        return Result(classifier.top(outputBytes, 3), (t1 - t0) / 1e6, (t2 - t1) / 1e6)
    }

    override fun close() {
        interpreter.close()
        (delegate as? AutoCloseable)?.close()
    }

    companion object {
        const val MODEL = "model.tflite"
        const val PREPROCESS = "preprocess.json"
        private const val HINT = "put a model in with: edgecnn export android NAME --assets android_demo/app/src/main/assets"

        /** Loads the assets and builds the interpreter. Every failure becomes a [CoreException] with a readable message. */
        @Throws(CoreException::class)
        fun load(context: Context, backend: Backend, threads: Int): ModelEngine {
            // Core relies on this when it writes float32 inputs; every Android ABI is little-endian.
            check(ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN)
            val preprocess = readText(context, PREPROCESS)
            // preprocess.json names its labels file (edgecnn export writes labels.txt).
            val labelsName = try {
                PreprocessSpec.parse(preprocess).labels
            } catch (e: CoreException) {
                throw CoreException("assets/$PREPROCESS: ${e.message}")
            }
            val labels = readText(context, labelsName)
            val model = mapModel(context)
            var delegate: Delegate? = null
            val interpreter = try {
                val options = Interpreter.Options().setNumThreads(threads)
                when (backend) {
                    Backend.XNNPACK -> options.setUseXNNPACK(true)
                    Backend.CPU -> options.setUseXNNPACK(false)
                    Backend.GPU -> {
                        val compat = CompatibilityList()
                        if (!compat.isDelegateSupportedOnThisDevice) {
                            throw CoreException("The GPU delegate does not support this device's GPU; choose CPU")
                        }
                        delegate = GpuDelegate(compat.bestOptionsForThisDevice)
                        options.addDelegate(delegate)
                    }
                    Backend.NNAPI -> {
                        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.O_MR1) {
                            throw CoreException("NNAPI needs Android 8.1 or newer; choose CPU")
                        }
                        delegate = NnApiDelegate()
                        options.addDelegate(delegate)
                    }
                }
                Interpreter(model, options)
            } catch (e: CoreException) {
                (delegate as? AutoCloseable)?.close()
                throw e
            } catch (e: Exception) {
                // e.g. "The model is not a valid Flatbuffer buffer", an op the runtime lacks, a delegate failure.
                (delegate as? AutoCloseable)?.close()
                throw CoreException("assets/$MODEL cannot be loaded on ${backend.name}: ${e.message ?: e.javaClass.simpleName}", e)
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
                return ModelEngine(interpreter, delegate, classifier, what)
            } catch (e: Exception) {
                interpreter.close()
                (delegate as? AutoCloseable)?.close()
                throw e as? CoreException ?: CoreException("assets/$MODEL: ${e.message ?: e.javaClass.simpleName}", e)
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

        private fun readText(context: Context, name: String): String = try {
            context.assets.open(name).use { it.readBytes().toString(Charsets.UTF_8) }
        } catch (e: FileNotFoundException) {
            throw CoreException("assets/$name is missing: $HINT")
        } catch (e: IOException) {
            throw CoreException("assets/$name cannot be read: ${e.message}")
        }

        /** The model memory-mapped from the APK (stored uncompressed, see build.gradle.kts), else read into memory. */
        private fun mapModel(context: Context): ByteBuffer {
            try {
                context.assets.openFd(MODEL).use { fd ->
                    if (fd.declaredLength == 0L) throw CoreException("assets/$MODEL is empty: $HINT")
                    FileInputStream(fd.fileDescriptor).use { stream ->
                        val mapped: MappedByteBuffer =
                            stream.channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                        return mapped
                    }
                }
            } catch (e: FileNotFoundException) {
                // openFd also fails for compressed assets: fall back to reading the bytes.
                val bytes = try {
                    context.assets.open(MODEL).use { it.readBytes() }
                } catch (e2: FileNotFoundException) {
                    throw CoreException("assets/$MODEL is missing: $HINT")
                }
                if (bytes.isEmpty()) throw CoreException("assets/$MODEL is empty: $HINT")
                return ByteBuffer.allocateDirect(bytes.size).order(ByteOrder.nativeOrder()).put(bytes).also { it.rewind() }
            } catch (e: IOException) {
                throw CoreException("assets/$MODEL cannot be read: ${e.message}")
            }
        }
    }
}
