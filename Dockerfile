# syntax=docker/dockerfile:1
# Images of the inference server (docs/deployment.md). Two targets, linux-x64 only:
#   docker build -t inference-server:cuda .                  CUDA image (the default, last stage): CUDA runtime, the CUDA
#                                                            libtorch of PyTorch's wheel, the native kernels, .NET, the server
#   docker build -t inference-server:cpu --target cpu .      CPU image: the .NET runtime, the server and its CPU libtorch
# Run (the model comes from a mounted volume; without --model the embedded tiny-llama is served):
#   docker run --gpus all -p 8000:8000 -p 8001:8001 -v /data/models:/models:ro inference-server:cuda --model /models/llama-3-8b
#   docker run -p 8000:8000 -p 8001:8001 inference-server:cpu
# Every base image and package version is pinned here; docs/deployment.md says how to move them together.

ARG DOTNET_SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0.100-noble
ARG DOTNET_RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0.0-noble
ARG CUDA_DEVEL_IMAGE=nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04
ARG CUDA_RUNTIME_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04

# ---- kernels: the native CUDA library (src/Kernels) built against the libtorch the image runs with ----
FROM ${CUDA_DEVEL_IMAGE} AS kernels
# PyTorch 2.10.0 is the LibTorch that TorchSharp 0.107.0 (Directory.Packages.props) binds to; its cu128 wheel brings
# libtorch with headers and CMake config, and the CUDA libraries it links (cuBLAS, cuDNN, NCCL) as nvidia-* wheels.
ARG TORCH_VERSION=2.10.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
# GPU architectures to compile for (no GPU at build time): Ampere and Hopper; 9.0a enables the wgmma INT8 GEMMs.
ARG TORCH_CUDA_ARCH_LIST="8.0;8.6;8.9;9.0a"
ENV TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST}
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv cmake ninja-build \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"
WORKDIR /src
COPY src/Kernels src/Kernels
RUN cmake -S src/Kernels -B build/kernels -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$(/opt/venv/bin/python -c 'import torch; print(torch.utils.cmake_prefix_path)')" \
    && cmake --build build/kernels \
    && install -D build/kernels/libinference_kernels.so /opt/inference/lib/libinference_kernels.so

# ---- publish: the server, framework-dependent, linux-x64 only (no Windows/macOS libtorch in the output) ----
FROM ${DOTNET_SDK_IMAGE} AS publish
WORKDIR /src
# Restore first, from the project files alone, so the NuGet layer is reused while only sources change.
COPY global.json Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY build build
COPY protos protos
COPY src/Tokenization/Tokenization.csproj src/Tokenization/
COPY src/Engine/Engine.csproj src/Engine/
COPY src/Quant/Quant.csproj src/Quant/
COPY src/StructuredOutputs/StructuredOutputs.csproj src/StructuredOutputs/
COPY src/Server/Server.csproj src/Server/
COPY src/Analyzers/Analyzers.csproj src/Analyzers/
RUN dotnet restore src/Server/Server.csproj -r linux-x64
COPY src src
RUN dotnet publish src/Server/Server.csproj -c Release -r linux-x64 --self-contained false --no-restore -o /app --nologo

# ---- cpu: serves on the CPU libtorch that TorchSharp-cpu ships (published beside the server) ----
FROM ${DOTNET_RUNTIME_IMAGE} AS cpu
WORKDIR /app
COPY --from=publish /app /app
COPY --chmod=0755 deploy/docker/healthcheck.sh /usr/local/bin/healthcheck
# The model cache volume: mount models here (read-only is enough) and pass --model /models/NAME.
RUN mkdir -p /models && chown "${APP_UID}" /models
VOLUME /models
EXPOSE 8000 8001
# The .NET images define the non-root user "app" (APP_UID 1654).
USER ${APP_UID}
# /health answers 200 as soon as the server listens (before the model is loaded); readiness is /ready.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/healthcheck"]
ENTRYPOINT ["dotnet", "/app/InferenceServer.dll", "serve", "--host", "0.0.0.0", "--device", "cpu"]

# ---- cuda (default): CUDA runtime + PyTorch's CUDA libtorch + the kernels + .NET + the server ----
FROM ${DOTNET_RUNTIME_IMAGE} AS dotnet-runtime

FROM ${CUDA_RUNTIME_IMAGE} AS cuda
# The ASP.NET Core runtime, taken whole from the pinned .NET image (no package feed needed at run time).
COPY --from=dotnet-runtime /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet \
    && apt-get update \
    && apt-get install -y --no-install-recommends libicu74 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1654 app \
    && useradd --uid 1654 --gid 1654 --no-create-home --shell /usr/sbin/nologin app \
    && mkdir -p /models && chown 1654:1654 /models
# torch/lib finds the nvidia-* wheels' libraries through its RUNPATH ($ORIGIN/../../nvidia/...): keep both side by side.
COPY --from=kernels /opt/venv/lib/python3.12/site-packages/torch/lib /opt/torch/site-packages/torch/lib
COPY --from=kernels /opt/venv/lib/python3.12/site-packages/nvidia /opt/torch/site-packages/nvidia
COPY --from=kernels /opt/inference/lib/libinference_kernels.so /opt/inference/lib/libinference_kernels.so
COPY --from=publish /app /app
COPY --chmod=0755 deploy/docker/healthcheck.sh /usr/local/bin/healthcheck
WORKDIR /app
ENV DOTNET_ROOT=/usr/share/dotnet \
    INFERENCE_KERNELS=/opt/inference/lib/libinference_kernels.so \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
VOLUME /models
EXPOSE 8000 8001
USER 1654
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/healthcheck"]
# --libtorch: the server loads the CUDA libtorch from this folder before TorchSharp starts (README, "CPU and CUDA").
ENTRYPOINT ["dotnet", "/app/InferenceServer.dll", "serve", "--host", "0.0.0.0", "--libtorch", "/opt/torch/site-packages/torch/lib"]
