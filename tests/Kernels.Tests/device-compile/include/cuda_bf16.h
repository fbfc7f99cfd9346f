// bfloat16 lives with float16 in cuda_fp16.h here.
#pragma once
#include "cuda_fp16.h"
