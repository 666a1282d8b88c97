#include "definitions.h"

struct MergedCustomUpdateGroup0
 {
    float* __restrict__ OutPost;
    uint32_t numNeurons;
    
}
;
struct MergedCustomUpdateGroup1
 {
    float* __restrict__ TFirstSpike;
    float* __restrict__ TFirstSpikeSumBack;
    float* __restrict__ TFirstSpikeTrueBack;
    uint8_t* __restrict__ YTrue;
    
}
;
struct MergedCustomUpdateGroup2
 {
    uint8_t* __restrict__ YTrue;
    uint8_t* __restrict__ YTrueBack;
    
}
;
struct MergedCustomUpdateGroup3
 {
    float* __restrict__ LambdaI;
    float* __restrict__ LambdaV;
    int32_t* __restrict__ RingReadEndOffset;
    int32_t* __restrict__ RingReadOffset;
    int32_t* __restrict__ RingWriteOffset;
    int32_t* __restrict__ RingWriteStartOffset;
    float* __restrict__ TFirstSpike;
    float* __restrict__ TFirstSpikeBack;
    float* __restrict__ V;
    
}
;
struct MergedCustomUpdateGroup4
 {
    float* __restrict__ LambdaI;
    float* __restrict__ LambdaV;
    int32_t* __restrict__ RingReadEndOffset;
    int32_t* __restrict__ RingReadOffset;
    int32_t* __restrict__ RingWriteOffset;
    int32_t* __restrict__ RingWriteStartOffset;
    float* __restrict__ V;
    
}
;
struct MergedCustomUpdateGroup5
 {
    int32_t* __restrict__ RingReadEndOffset;
    int32_t* __restrict__ RingReadOffset;
    int32_t* __restrict__ RingWriteOffset;
    int32_t* __restrict__ RingWriteStartOffset;
    uint32_t* __restrict__ StartSpike;
    
}
;
struct MergedCustomUpdateWUGroup0
 {
    float* __restrict__ Gradient;
    uint32_t numSrcNeurons;
    uint32_t numTrgNeurons;
    
}
;
struct MergedCustomUpdateWUGroup1
 {
    float* __restrict__ Gradient;
    float* __restrict__ M;
    float* __restrict__ V;
    float* __restrict__ Variable;
    float Alpha;
    float MomentScale1;
    float MomentScale2;
    uint32_t numSrcNeurons;
    uint32_t numTrgNeurons;
    
}
;
static MergedCustomUpdateGroup0 mergedCustomUpdateGroup0[2];
void pushMergedCustomUpdateGroup0ToDevice(unsigned int idx, float* OutPost, uint32_t numNeurons) {
    mergedCustomUpdateGroup0[idx].OutPost = OutPost;
    mergedCustomUpdateGroup0[idx].numNeurons = numNeurons;
}
static MergedCustomUpdateGroup1 mergedCustomUpdateGroup1[1];
void pushMergedCustomUpdateGroup1ToDevice(unsigned int idx, float* TFirstSpike, float* TFirstSpikeSumBack, float* TFirstSpikeTrueBack, uint8_t* YTrue) {
    mergedCustomUpdateGroup1[idx].TFirstSpike = TFirstSpike;
    mergedCustomUpdateGroup1[idx].TFirstSpikeSumBack = TFirstSpikeSumBack;
    mergedCustomUpdateGroup1[idx].TFirstSpikeTrueBack = TFirstSpikeTrueBack;
    mergedCustomUpdateGroup1[idx].YTrue = YTrue;
}
static MergedCustomUpdateGroup2 mergedCustomUpdateGroup2[1];
void pushMergedCustomUpdateGroup2ToDevice(unsigned int idx, uint8_t* YTrue, uint8_t* YTrueBack) {
    mergedCustomUpdateGroup2[idx].YTrue = YTrue;
    mergedCustomUpdateGroup2[idx].YTrueBack = YTrueBack;
}
static MergedCustomUpdateGroup3 mergedCustomUpdateGroup3[1];
void pushMergedCustomUpdateGroup3ToDevice(unsigned int idx, float* LambdaI, float* LambdaV, int32_t* RingReadEndOffset, int32_t* RingReadOffset, int32_t* RingWriteOffset, int32_t* RingWriteStartOffset, float* TFirstSpike, float* TFirstSpikeBack, float* V) {
    mergedCustomUpdateGroup3[idx].LambdaI = LambdaI;
    mergedCustomUpdateGroup3[idx].LambdaV = LambdaV;
    mergedCustomUpdateGroup3[idx].RingReadEndOffset = RingReadEndOffset;
    mergedCustomUpdateGroup3[idx].RingReadOffset = RingReadOffset;
    mergedCustomUpdateGroup3[idx].RingWriteOffset = RingWriteOffset;
    mergedCustomUpdateGroup3[idx].RingWriteStartOffset = RingWriteStartOffset;
    mergedCustomUpdateGroup3[idx].TFirstSpike = TFirstSpike;
    mergedCustomUpdateGroup3[idx].TFirstSpikeBack = TFirstSpikeBack;
    mergedCustomUpdateGroup3[idx].V = V;
}
static MergedCustomUpdateGroup4 mergedCustomUpdateGroup4[1];
void pushMergedCustomUpdateGroup4ToDevice(unsigned int idx, float* LambdaI, float* LambdaV, int32_t* RingReadEndOffset, int32_t* RingReadOffset, int32_t* RingWriteOffset, int32_t* RingWriteStartOffset, float* V) {
    mergedCustomUpdateGroup4[idx].LambdaI = LambdaI;
    mergedCustomUpdateGroup4[idx].LambdaV = LambdaV;
    mergedCustomUpdateGroup4[idx].RingReadEndOffset = RingReadEndOffset;
    mergedCustomUpdateGroup4[idx].RingReadOffset = RingReadOffset;
    mergedCustomUpdateGroup4[idx].RingWriteOffset = RingWriteOffset;
    mergedCustomUpdateGroup4[idx].RingWriteStartOffset = RingWriteStartOffset;
    mergedCustomUpdateGroup4[idx].V = V;
}
static MergedCustomUpdateGroup5 mergedCustomUpdateGroup5[1];
void pushMergedCustomUpdateGroup5ToDevice(unsigned int idx, int32_t* RingReadEndOffset, int32_t* RingReadOffset, int32_t* RingWriteOffset, int32_t* RingWriteStartOffset, uint32_t* StartSpike) {
    mergedCustomUpdateGroup5[idx].RingReadEndOffset = RingReadEndOffset;
    mergedCustomUpdateGroup5[idx].RingReadOffset = RingReadOffset;
    mergedCustomUpdateGroup5[idx].RingWriteOffset = RingWriteOffset;
    mergedCustomUpdateGroup5[idx].RingWriteStartOffset = RingWriteStartOffset;
    mergedCustomUpdateGroup5[idx].StartSpike = StartSpike;
}
static MergedCustomUpdateWUGroup0 mergedCustomUpdateWUGroup0[2];
void pushMergedCustomUpdateWUGroup0ToDevice(unsigned int idx, float* Gradient, uint32_t numSrcNeurons, uint32_t numTrgNeurons) {
    mergedCustomUpdateWUGroup0[idx].Gradient = Gradient;
    mergedCustomUpdateWUGroup0[idx].numSrcNeurons = numSrcNeurons;
    mergedCustomUpdateWUGroup0[idx].numTrgNeurons = numTrgNeurons;
}
static MergedCustomUpdateWUGroup1 mergedCustomUpdateWUGroup1[2];
void pushMergedCustomUpdateWUGroup1ToDevice(unsigned int idx, float* Gradient, float* M, float* V, float* Variable, float Alpha, float MomentScale1, float MomentScale2, uint32_t numSrcNeurons, uint32_t numTrgNeurons) {
    mergedCustomUpdateWUGroup1[idx].Gradient = Gradient;
    mergedCustomUpdateWUGroup1[idx].M = M;
    mergedCustomUpdateWUGroup1[idx].V = V;
    mergedCustomUpdateWUGroup1[idx].Variable = Variable;
    mergedCustomUpdateWUGroup1[idx].Alpha = Alpha;
    mergedCustomUpdateWUGroup1[idx].MomentScale1 = MomentScale1;
    mergedCustomUpdateWUGroup1[idx].MomentScale2 = MomentScale2;
    mergedCustomUpdateWUGroup1[idx].numSrcNeurons = numSrcNeurons;
    mergedCustomUpdateWUGroup1[idx].numTrgNeurons = numTrgNeurons;
}
void pushMergedCustomUpdateWU1AlphaToDevice(unsigned int idx, float value) {
    mergedCustomUpdateWUGroup1[idx].Alpha = value;
}
void pushMergedCustomUpdateWU1MomentScale1ToDevice(unsigned int idx, float value) {
    mergedCustomUpdateWUGroup1[idx].MomentScale1 = value;
}
void pushMergedCustomUpdateWU1MomentScale2ToDevice(unsigned int idx, float value) {
    mergedCustomUpdateWUGroup1[idx].MomentScale2 = value;
}
void updateGradientLearn(unsigned long long timestep) {
     {
        // merged custom WU update group 1
        for(unsigned int g = 0; g < 2; g++) {
            const auto *group = &mergedCustomUpdateWUGroup1[g]; 
            for(unsigned int i = 0; i < group->numSrcNeurons; i++) {
                for (unsigned int j = 0; j < group->numTrgNeurons; j++) {
                    const unsigned int idSyn = (i * group->numTrgNeurons) + j;
                    float _lV = group->V[idSyn];
                    float _lM = group->M[idSyn];
                    float _lVariable = group->Variable[idSyn];
                    float _lGradient = group->Gradient[idSyn];
                    _lM = ((9.000000000e-01f) * _lM) + ((1.0f - (9.000000000e-01f)) * _lGradient);
                    _lV = ((9.900000000e-01f) * _lV) + ((1.0f - (9.900000000e-01f)) * _lGradient * _lGradient);
                    _lVariable -= (group->Alpha * _lM * group->MomentScale1) / (sqrt(_lV * group->MomentScale2) + (1.000000000e-08f));
                    _lGradient = 0.0f;
                    group->Variable[idSyn] = _lVariable;
                    group->Gradient[idSyn] = _lGradient;
                    group->V[idSyn] = _lV;
                    group->M[idSyn] = _lM;
                }
            }
        }
    }
}
void updateReset(unsigned long long timestep) {
     {
        // merged custom update group 2
        for(unsigned int g = 0; g < 1; g++) {
            const auto *group = &mergedCustomUpdateGroup2[g]; 
             {
                const uint8_t _lYTrue = group->YTrue[0];
                uint8_t _lYTrueBack;
                _lYTrueBack = _lYTrue;
                group->YTrueBack[0] = _lYTrueBack;
            }
        }
    }
     {
        // merged custom update group 3
        for(unsigned int g = 0; g < 1; g++) {
            const auto *group = &mergedCustomUpdateGroup3[g]; 
            for(unsigned int i = 0; i < (3u); i++) {
                int32_t _lRingReadEndOffset = group->RingReadEndOffset[i];
                int32_t _lRingWriteStartOffset = group->RingWriteStartOffset[i];
                int32_t _lRingWriteOffset = group->RingWriteOffset[i];
                int32_t _lRingReadOffset = group->RingReadOffset[i];
                float _lLambdaI;
                float _lLambdaV;
                float _lTFirstSpike = group->TFirstSpike[i];
                float _lV;
                float _lTFirstSpikeBack;
                _lTFirstSpikeBack = _lTFirstSpike;
                _lV = (0.000000000e+00f);
                _lTFirstSpike = (-3.402823466e+38f);
                _lLambdaV = (0.000000000e+00f);
                _lLambdaI = (0.000000000e+00f);
                _lRingReadOffset = _lRingWriteOffset - 1;
                if(_lRingReadOffset < 0)
                 {
                    _lRingReadOffset = 499;
                }
                
                _lRingReadEndOffset = _lRingWriteStartOffset;
                _lRingWriteStartOffset = _lRingReadOffset;
                group->RingReadEndOffset[i] = _lRingReadEndOffset;
                group->RingWriteStartOffset[i] = _lRingWriteStartOffset;
                group->RingWriteOffset[i] = _lRingWriteOffset;
                group->RingReadOffset[i] = _lRingReadOffset;
                group->LambdaI[i] = _lLambdaI;
                group->LambdaV[i] = _lLambdaV;
                group->TFirstSpike[i] = _lTFirstSpike;
                group->V[i] = _lV;
                group->TFirstSpikeBack[i] = _lTFirstSpikeBack;
            }
        }
    }
     {
        // merged custom update group 4
        for(unsigned int g = 0; g < 1; g++) {
            const auto *group = &mergedCustomUpdateGroup4[g]; 
            for(unsigned int i = 0; i < (100u); i++) {
                int32_t _lRingReadEndOffset = group->RingReadEndOffset[i];
                int32_t _lRingWriteStartOffset = group->RingWriteStartOffset[i];
                int32_t _lRingWriteOffset = group->RingWriteOffset[i];
                int32_t _lRingReadOffset = group->RingReadOffset[i];
                float _lLambdaI;
                float _lLambdaV;
                float _lV;
                _lV = (0.000000000e+00f);
                _lLambdaV = (0.000000000e+00f);
                _lLambdaI = (0.000000000e+00f);
                _lRingReadOffset = _lRingWriteOffset - 1;
                if(_lRingReadOffset < 0)
                 {
                    _lRingReadOffset = 499;
                }
                
                _lRingReadEndOffset = _lRingWriteStartOffset;
                _lRingWriteStartOffset = _lRingReadOffset;
                group->RingReadEndOffset[i] = _lRingReadEndOffset;
                group->RingWriteStartOffset[i] = _lRingWriteStartOffset;
                group->RingWriteOffset[i] = _lRingWriteOffset;
                group->RingReadOffset[i] = _lRingReadOffset;
                group->LambdaI[i] = _lLambdaI;
                group->LambdaV[i] = _lLambdaV;
                group->V[i] = _lV;
            }
        }
    }
     {
        // merged custom update group 5
        for(unsigned int g = 0; g < 1; g++) {
            const auto *group = &mergedCustomUpdateGroup5[g]; 
            for(unsigned int i = 0; i < (4u); i++) {
                int32_t _lRingReadEndOffset = group->RingReadEndOffset[i];
                int32_t _lRingWriteStartOffset = group->RingWriteStartOffset[i];
                int32_t _lRingWriteOffset = group->RingWriteOffset[i];
                int32_t _lRingReadOffset = group->RingReadOffset[i];
                uint32_t _lStartSpike;
                _lStartSpike = (0u);
                _lRingReadOffset = _lRingWriteOffset - 1;
                if(_lRingReadOffset < 0)
                 {
                    _lRingReadOffset = 499;
                }
                
                _lRingReadEndOffset = _lRingWriteStartOffset;
                _lRingWriteStartOffset = _lRingReadOffset;
                group->RingReadEndOffset[i] = _lRingReadEndOffset;
                group->RingWriteStartOffset[i] = _lRingWriteStartOffset;
                group->RingWriteOffset[i] = _lRingWriteOffset;
                group->RingReadOffset[i] = _lRingReadOffset;
                group->StartSpike[i] = _lStartSpike;
            }
        }
    }
}
void updateTTFSReduce(unsigned long long timestep) {
     {
        // merged custom update group 1
        for(unsigned int g = 0; g < 1; g++) {
            const auto *group = &mergedCustomUpdateGroup1[g]; 
            float _lrTFirstSpikeSumBack = 0.0f;
            float _lrTFirstSpikeTrueBack = 0.0f;
            for(unsigned int i = 0; i < (3u); i++) {
                float _lTFirstSpikeTrueBack;
                const float _lTFirstSpike = group->TFirstSpike[i];
                float _lTFirstSpikeSumBack;
                const uint8_t _lYTrue = group->YTrue[0];
                _lTFirstSpikeTrueBack = (i == _lYTrue && _lTFirstSpike >= -30.0f) ? _lTFirstSpike : 0.0f;
                _lTFirstSpikeSumBack = (_lTFirstSpike >= -30.0f) ? _lTFirstSpike : 0.0f;
                _lrTFirstSpikeSumBack += _lTFirstSpikeSumBack;
                _lrTFirstSpikeTrueBack += _lTFirstSpikeTrueBack;
            }
            group->TFirstSpikeSumBack[0] = _lrTFirstSpikeSumBack;
            group->TFirstSpikeTrueBack[0] = _lrTFirstSpikeTrueBack;
        }
    }
}
void updateZeroGradient(unsigned long long timestep) {
     {
        // merged custom WU update group 0
        for(unsigned int g = 0; g < 2; g++) {
            const auto *group = &mergedCustomUpdateWUGroup0[g]; 
            for(unsigned int i = 0; i < group->numSrcNeurons; i++) {
                for (unsigned int j = 0; j < group->numTrgNeurons; j++) {
                    const unsigned int idSyn = (i * group->numTrgNeurons) + j;
                    float _lGradient;
                    _lGradient = (0.000000000e+00f);
                    group->Gradient[idSyn] = _lGradient;
                }
            }
        }
    }
}
void updateZeroOutPost(unsigned long long timestep) {
     {
        // merged custom update group 0
        for(unsigned int g = 0; g < 2; g++) {
            const auto *group = &mergedCustomUpdateGroup0[g]; 
            for(unsigned int i = 0; i < group->numNeurons; i++) {
                float _lOutPost;
                _lOutPost = (0.000000000e+00f);
                group->OutPost[i] = _lOutPost;
            }
        }
    }
}
