using System.CommandLine;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Scheduling;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.Hosting;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.Cli;

/// <summary><c>serve</c>: load the model and serve the OpenAI-compatible REST API (and gRPC).</summary>
public static class ServeCommand
{
    public static Command Create(QuantizationRegistry quantization)
    {
        var a = new EngineArguments();
        var host = new Option<string>("--host") { Description = "Address to listen on.", DefaultValueFactory = _ => "0.0.0.0" };
        var port = new Option<int>("--port") { Description = "REST port.", DefaultValueFactory = _ => 8000 };
        var grpcPort = new Option<int>("--grpc-port") { Description = "gRPC port (HTTP/2).", DefaultValueFactory = _ => 8001 };
        var served = new Option<string[]>("--served-model-name") { Description = "Model name(s) clients use; the first is reported. Default: the source model's name for a folder made by quantize, else --model as given (tiny-llama for the embedded model).", AllowMultipleArgumentsPerToken = true };
        var apiKey = new Option<string[]>("--api-key") { Description = "Require this key as 'Authorization: Bearer KEY' (REST) or metadata 'authorization: Bearer KEY' (gRPC); repeat for several keys, any one is accepted. Without --api-key/--api-key-file: INFERENCE_API_KEY, else VLLM_API_KEY." };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = "File of accepted API keys, one per line (blank lines and # comments skipped); adds to --api-key." };
        var protectHealth = new Option<bool>("--protect-health") { Description = "With an API key, /health, /ready and gRPC health need it too (open by default)." };
        var protectMetrics = new Option<bool>("--protect-metrics") { Description = "With an API key, /metrics, /openapi/v1.json, /docs and gRPC reflection need it too (open by default)." };
        var restOnGrpcPort = new Option<bool>("--rest-on-grpc-port") { Description = "Also serve the REST routes (h2c) on --grpc-port; by default that port answers them 404." };
        var maxSeqs = new Option<int>("--max-num-seqs") { Description = "Sequences per engine step.", DefaultValueFactory = _ => 64 };
        var maxTokens = new Option<int>("--max-num-batched-tokens") { Description = "Tokens per engine step (prefill chunks plus decodes).", DefaultValueFactory = _ => 2048 };
        var maxWaiting = new Option<int>("--max-waiting") { Description = "Requests allowed to queue before new ones get HTTP 429.", DefaultValueFactory = _ => 256 };
        var blockSize = new Option<int>("--block-size") { Description = "Tokens per KV-cache block.", DefaultValueFactory = _ => 16 };
        var kvBlocks = new Option<int?>("--num-kv-blocks") { Description = "KV-cache blocks (overrides the memory-based size)." };
        var kvSpace = new Option<double>("--kv-cache-space") { Description = "Most GiB the KV cache takes on CPU; less when --max-num-seqs sequences of --max-model-len tokens need less.", DefaultValueFactory = _ => 1.0 };
        var asyncScheduling = new AsyncSchedulingOptions();
        var protection = new ServeProtectionOptions();
        var toolCalling = new ToolCallingOptions();
        var eager = new Option<bool>("--enforce-eager") { Description = "Never replay decode steps from CUDA graphs." };
        var noPrefix = new Option<bool>("--no-enable-prefix-caching") { Description = "Do not share KV blocks between requests with a common prefix." };
        var gpuUtil = new Option<double>("--gpu-memory-utilization") { Description = "Fraction of GPU memory to use, KV cache included.", DefaultValueFactory = _ => 0.9 };
        var shutdownTimeout = new Option<double>("--shutdown-timeout")
        {
            Description = "Seconds running requests get to finish after SIGTERM; new ones get 503 at once, streams still open at the end get an error event.",
            DefaultValueFactory = _ => 30,
        };
        shutdownTimeout.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is var v && (v < 0 || double.IsNaN(v) || v > 86400))
                r.AddError("--shutdown-timeout must be between 0 and 86400 seconds.");
        });
        var cmd = new Command("serve", "Serve a model over the OpenAI-compatible REST API (default verb).");
        foreach (var o in a.All) cmd.Options.Add(o);
        foreach (var o in new Option[] { host, port, grpcPort, served, apiKey, apiKeyFile, protectHealth, protectMetrics, restOnGrpcPort, shutdownTimeout, maxSeqs, maxTokens, maxWaiting, blockSize, kvBlocks, kvSpace, gpuUtil, eager, noPrefix }.Concat(asyncScheduling.All).Concat(protection.All).Concat(toolCalling.All))
            cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            bool? asyncMode = asyncScheduling.Value(p);   // before loading: a contradiction fails fast
            protection.Apply(p, new ServerSettings(), 0);   // so does --allow-credentials without explicit origins
            var (toolParser, autoToolChoice) = toolCalling.Value(p);
            var apiKeys = ApiKeySources.Resolve(p.GetValue(apiKey), p.GetValue(apiKeyFile), Environment.GetEnvironmentVariable); // so does a bad key file
            PortCheck.EnsureFree(p.GetValue(host)!, (p.GetValue(port), "--port"), (p.GetValue(grpcPort), "--grpc-port"));  // before the slow load
            var engineOptions = new EngineOptions
            {
                MaxModelLen = p.GetValue(a.MaxModelLen),
                BlockSize = p.GetValue(blockSize),
                NumKvBlocks = p.GetValue(kvBlocks),
                CpuKvCacheSpaceGiB = p.GetValue(kvSpace),
                GpuMemoryUtilization = p.GetValue(gpuUtil),
                EnforceEager = p.GetValue(eager),
                AsyncScheduling = asyncMode,
                EnablePrefixCaching = !p.GetValue(noPrefix),
                Scheduler = new SchedulerOptions
                {
                    MaxNumSeqs = p.GetValue(maxSeqs),
                    MaxNumBatchedTokens = p.GetValue(maxTokens),
                    MaxWaiting = p.GetValue(maxWaiting),
                },
            };
            var modelDir = p.GetValue(a.Model) ?? DefaultModel.TinyLlamaDir();   // the folder ModelLoading.Load reads
            var names = p.GetValue(served) is { Length: > 0 } n ? n : [ServedModelName.Default(p.GetValue(a.Model), modelDir)];
            var settings = new ServerSettings
            {
                Host = p.GetValue(host)!,
                Port = p.GetValue(port),
                GrpcPort = p.GetValue(grpcPort),
                ServedModelNames = names,
                ShutdownTimeout = TimeSpan.FromSeconds(p.GetValue(shutdownTimeout)),
                ApiKeys = apiKeys,
                ProtectHealth = p.GetValue(protectHealth),
                ProtectMetrics = p.GetValue(protectMetrics),
                RestOnGrpcPort = p.GetValue(restOnGrpcPort),
                ToolCallParser = toolParser,
                EnableAutoToolChoice = autoToolChoice,
            };
            settings = protection.Apply(p, settings, engineOptions.Scheduler.MaxNumSeqs + engineOptions.Scheduler.MaxWaiting) with { LogLevel = LogLevels.Parse(p.GetValue(a.LogLevel)) };
            try
            {
                // The server listens first and loads on another thread: probes answer during the load.
                return ServerHost.Run(() =>
                {
                    var loaded = ModelLoading.Load(p, a, quantization, Console.WriteLine, showProgress: true);
                    // What the model was built with: a prequantized checkpoint reports its own method without the flag.
                    settings.Quantization = loaded.Options?.Quantization.Name ?? "none";
                    return loaded;
                }, engineOptions, settings);
            }
            catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                // PortCheck passed before the load; another process took the port since.
                throw new ArgumentException($"{e.Message} Choose another port with --port N or --grpc-port N.");
            }
        });
        return cmd;
    }
}
