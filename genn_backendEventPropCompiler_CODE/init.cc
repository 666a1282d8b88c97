#include "definitions.h"
struct MergedNeuronInitGroup0
 {
    uint8_t* __restrict__ BackSpike;
    float* __restrict__ LambdaI;
    float* __restrict__ LambdaV;
    int32_t* __restrict__ RingReadEndOffset;
    int32_t* __restrict__ RingReadOffset;
    int32_t* __restrict__ RingWriteOffset;
    int32_t* __restrict__ RingWriteStartOffset;
    float* __restrict__ TFirstSpike;
    float* __restrict__ TFirstSpikeBack;
    float* __restrict__ TFirstSpikeSumBack;
    float* __restrict__ TFirstSpikeTrueBack;
    float* __restrict__ V;
    uint8_t* __restrict__ YTrue;
    uint8_t* __restrict__ YTrueBack;
    float* __restrict__ outPostInSyn0;
    
}
;
struct MergedNeuronInitGroup1
 {
    uint8_t* __restrict__ BackSpike;
    uint32_t* __restrict__ EndSpike;
    int32_t* __restrict__ RingReadEndOffset;
    int32_t* __restrict__ RingReadOffset;
    int32_t* __restrict__ RingWriteOffset;
    int32_t* __restrict__ RingWriteStartOffset;
    uint32_t* __restrict__ StartSpike;
    uint32_t* __restrict__ spkCntEventSynSpikeEvent0;
    uint32_t* __restrict__ spkCntSynSpike0;
    uint32_t* __restrict__ spkEventSynSpikeEvent0;
    uint32_t* __restrict__ spkSynSpike0;
    
}
;
struct MergedNeuronInitGroup2
 {
    uint8_t* __restrict__ BackSpike;
    float* __restrict__ LambdaI;
    float* __restrict__ LambdaV;
    int32_t* __restrict__ RingReadEndOffset;
    int32_t* __restrict__ RingReadOffset;
    int32_t* __restrict__ RingWriteOffset;
    int32_t* __restrict__ RingWriteStartOffset;
    float* __restrict__ V;
    float* __restrict__ outPostInSyn0;
    float* __restrict__ outPreOutSyn0;
    uint32_t* __restrict__ spkCntEventSynSpikeEvent0;
    uint32_t* __restrict__ spkCntSynSpike0;
    uint32_t* __restrict__ spkEventSynSpikeEvent0;
    uint32_t* __restrict__ spkSynSpike0;
    
}
;
struct MergedSynapseInitGroup0
 {
    float* __restrict__ Gradient;
    float* __restrict__ g;
    float meang;
    uint32_t numSrcNeurons;
    uint32_t numTrgNeurons;
    uint32_t rowStride;
    float sdg;
    
}
;
struct MergedCustomWUUpdateInitGroup0
 {
    float* __restrict__ M;
    float* __restrict__ V;
    uint32_t numSrcNeurons;
    uint32_t numTrgNeurons;
    uint32_t rowStride;
    
}
;
static MergedNeuronInitGroup0 mergedNeuronInitGroup0[1];
void pushMergedNeuronInitGroup0ToDevice(unsigned int idx, uint8_t* BackSpike, float* LambdaI, float* LambdaV, int32_t* RingReadEndOffset, int32_t* RingReadOffset, int32_t* RingWriteOffset, int32_t* RingWriteStartOffset, float* TFirstSpike, float* TFirstSpikeBack, float* TFirstSpikeSumBack, float* TFirstSpikeTrueBack, float* V, uint8_t* YTrue, uint8_t* YTrueBack, float* outPostInSyn0) {
    mergedNeuronInitGroup0[idx].BackSpike = BackSpike;
    mergedNeuronInitGroup0[idx].LambdaI = LambdaI;
    mergedNeuronInitGroup0[idx].LambdaV = LambdaV;
    mergedNeuronInitGroup0[idx].RingReadEndOffset = RingReadEndOffset;
    mergedNeuronInitGroup0[idx].RingReadOffset = RingReadOffset;
    mergedNeuronInitGroup0[idx].RingWriteOffset = RingWriteOffset;
    mergedNeuronInitGroup0[idx].RingWriteStartOffset = RingWriteStartOffset;
    mergedNeuronInitGroup0[idx].TFirstSpike = TFirstSpike;
    mergedNeuronInitGroup0[idx].TFirstSpikeBack = TFirstSpikeBack;
    mergedNeuronInitGroup0[idx].TFirstSpikeSumBack = TFirstSpikeSumBack;
    mergedNeuronInitGroup0[idx].TFirstSpikeTrueBack = TFirstSpikeTrueBack;
    mergedNeuronInitGroup0[idx].V = V;
    mergedNeuronInitGroup0[idx].YTrue = YTrue;
    mergedNeuronInitGroup0[idx].YTrueBack = YTrueBack;
    mergedNeuronInitGroup0[idx].outPostInSyn0 = outPostInSyn0;
}
static MergedNeuronInitGroup1 mergedNeuronInitGroup1[1];
void pushMergedNeuronInitGroup1ToDevice(unsigned int idx, uint8_t* BackSpike, uint32_t* EndSpike, int32_t* RingReadEndOffset, int32_t* RingReadOffset, int32_t* RingWriteOffset, int32_t* RingWriteStartOffset, uint32_t* StartSpike, uint32_t* spkCntEventSynSpikeEvent0, uint32_t* spkCntSynSpike0, uint32_t* spkEventSynSpikeEvent0, uint32_t* spkSynSpike0) {
    mergedNeuronInitGroup1[idx].BackSpike = BackSpike;
    mergedNeuronInitGroup1[idx].EndSpike = EndSpike;
    mergedNeuronInitGroup1[idx].RingReadEndOffset = RingReadEndOffset;
    mergedNeuronInitGroup1[idx].RingReadOffset = RingReadOffset;
    mergedNeuronInitGroup1[idx].RingWriteOffset = RingWriteOffset;
    mergedNeuronInitGroup1[idx].RingWriteStartOffset = RingWriteStartOffset;
    mergedNeuronInitGroup1[idx].StartSpike = StartSpike;
    mergedNeuronInitGroup1[idx].spkCntEventSynSpikeEvent0 = spkCntEventSynSpikeEvent0;
    mergedNeuronInitGroup1[idx].spkCntSynSpike0 = spkCntSynSpike0;
    mergedNeuronInitGroup1[idx].spkEventSynSpikeEvent0 = spkEventSynSpikeEvent0;
    mergedNeuronInitGroup1[idx].spkSynSpike0 = spkSynSpike0;
}
static MergedNeuronInitGroup2 mergedNeuronInitGroup2[1];
void pushMergedNeuronInitGroup2ToDevice(unsigned int idx, uint8_t* BackSpike, float* LambdaI, float* LambdaV, int32_t* RingReadEndOffset, int32_t* RingReadOffset, int32_t* RingWriteOffset, int32_t* RingWriteStartOffset, float* V, float* outPostInSyn0, float* outPreOutSyn0, uint32_t* spkCntEventSynSpikeEvent0, uint32_t* spkCntSynSpike0, uint32_t* spkEventSynSpikeEvent0, uint32_t* spkSynSpike0) {
    mergedNeuronInitGroup2[idx].BackSpike = BackSpike;
    mergedNeuronInitGroup2[idx].LambdaI = LambdaI;
    mergedNeuronInitGroup2[idx].LambdaV = LambdaV;
    mergedNeuronInitGroup2[idx].RingReadEndOffset = RingReadEndOffset;
    mergedNeuronInitGroup2[idx].RingReadOffset = RingReadOffset;
    mergedNeuronInitGroup2[idx].RingWriteOffset = RingWriteOffset;
    mergedNeuronInitGroup2[idx].RingWriteStartOffset = RingWriteStartOffset;
    mergedNeuronInitGroup2[idx].V = V;
    mergedNeuronInitGroup2[idx].outPostInSyn0 = outPostInSyn0;
    mergedNeuronInitGroup2[idx].outPreOutSyn0 = outPreOutSyn0;
    mergedNeuronInitGroup2[idx].spkCntEventSynSpikeEvent0 = spkCntEventSynSpikeEvent0;
    mergedNeuronInitGroup2[idx].spkCntSynSpike0 = spkCntSynSpike0;
    mergedNeuronInitGroup2[idx].spkEventSynSpikeEvent0 = spkEventSynSpikeEvent0;
    mergedNeuronInitGroup2[idx].spkSynSpike0 = spkSynSpike0;
}
static MergedSynapseInitGroup0 mergedSynapseInitGroup0[2];
void pushMergedSynapseInitGroup0ToDevice(unsigned int idx, float* Gradient, float* g, float meang, uint32_t numSrcNeurons, uint32_t numTrgNeurons, uint32_t rowStride, float sdg) {
    mergedSynapseInitGroup0[idx].Gradient = Gradient;
    mergedSynapseInitGroup0[idx].g = g;
    mergedSynapseInitGroup0[idx].meang = meang;
    mergedSynapseInitGroup0[idx].numSrcNeurons = numSrcNeurons;
    mergedSynapseInitGroup0[idx].numTrgNeurons = numTrgNeurons;
    mergedSynapseInitGroup0[idx].rowStride = rowStride;
    mergedSynapseInitGroup0[idx].sdg = sdg;
}
static MergedCustomWUUpdateInitGroup0 mergedCustomWUUpdateInitGroup0[2];
void pushMergedCustomWUUpdateInitGroup0ToDevice(unsigned int idx, float* M, float* V, uint32_t numSrcNeurons, uint32_t numTrgNeurons, uint32_t rowStride) {
    mergedCustomWUUpdateInitGroup0[idx].M = M;
    mergedCustomWUUpdateInitGroup0[idx].V = V;
    mergedCustomWUUpdateInitGroup0[idx].numSrcNeurons = numSrcNeurons;
    mergedCustomWUUpdateInitGroup0[idx].numTrgNeurons = numTrgNeurons;
    mergedCustomWUUpdateInitGroup0[idx].rowStride = rowStride;
}
void initializeHost() {
}
void initialize() {
    // ------------------------------------------------------------------------
    // Neuron groups
     {
        // merged neuron init group 0
        for(unsigned int g = 0; g < 1; g++) {
            const auto *group = &mergedNeuronInitGroup0[g]; 
             {
                for (unsigned int i = 0; i < ((3u)); i++) {
                    float initVal;
                    initVal = (0.000000000e+00f);
                    group->V[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((3u)); i++) {
                    float initVal;
                    initVal = (-3.402823466e+38f);
                    group->TFirstSpike[i] = initVal;
                }
            }
             {
                uint8_t initVal;
                initVal = (0.000000000e+00f);
                group->YTrue[0] = initVal;
            }
             {
                uint8_t initVal;
                initVal = (0.000000000e+00f);
                group->YTrueBack[0] = initVal;
            }
             {
                for (unsigned int i = 0; i < ((3u)); i++) {
                    float initVal;
                    initVal = (0.000000000e+00f);
                    group->LambdaV[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((3u)); i++) {
                    float initVal;
                    initVal = (0.000000000e+00f);
                    group->LambdaI[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((3u)); i++) {
                    int32_t initVal;
                    initVal = (0.000000000e+00f);
                    group->RingWriteOffset[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((3u)); i++) {
                    int32_t initVal;
                    initVal = (4.990000000e+02f);
                    group->RingReadOffset[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((3u)); i++) {
                    int32_t initVal;
                    initVal = (4.990000000e+02f);
                    group->RingWriteStartOffset[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((3u)); i++) {
                    int32_t initVal;
                    initVal = (4.990000000e+02f);
                    group->RingReadEndOffset[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((3u)); i++) {
                    uint8_t initVal;
                    initVal = (0.000000000e+00f);
                    group->BackSpike[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((3u)); i++) {
                    float initVal;
                    initVal = (0.000000000e+00f);
                    group->TFirstSpikeBack[i] = initVal;
                }
            }
             {
                float initVal;
                initVal = (0.000000000e+00f);
                group->TFirstSpikeSumBack[0] = initVal;
            }
             {
                float initVal;
                initVal = (0.000000000e+00f);
                group->TFirstSpikeTrueBack[0] = initVal;
            }
            for (unsigned int i = 0; i < ((3u)); i++) {
                group->outPostInSyn0[i] = 0.000000000e+00f;
            }
        }
    }
     {
        // merged neuron init group 1
        for(unsigned int g = 0; g < 1; g++) {
            const auto *group = &mergedNeuronInitGroup1[g]; 
             {
                for (unsigned int i = 0; i < ((4u)); i++) {
                    uint32_t initVal;
                    initVal = (0.000000000e+00f);
                    group->StartSpike[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((4u)); i++) {
                    uint32_t initVal;
                    initVal = (0.000000000e+00f);
                    group->EndSpike[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((4u)); i++) {
                    int32_t initVal;
                    initVal = (0.000000000e+00f);
                    group->RingWriteOffset[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((4u)); i++) {
                    int32_t initVal;
                    initVal = (4.990000000e+02f);
                    group->RingReadOffset[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((4u)); i++) {
                    int32_t initVal;
                    initVal = (4.990000000e+02f);
                    group->RingWriteStartOffset[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((4u)); i++) {
                    int32_t initVal;
                    initVal = (4.990000000e+02f);
                    group->RingReadEndOffset[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((4u)); i++) {
                    uint8_t initVal;
                    initVal = (0.000000000e+00f);
                    group->BackSpike[i] = initVal;
                }
            }
            for (unsigned int i = 0; i < ((4u)); i++) {
                group->spkSynSpike0[i] = 0;
            }
            group->spkCntSynSpike0[0] = 0;
            for (unsigned int i = 0; i < ((4u)); i++) {
                group->spkEventSynSpikeEvent0[i] = 0;
            }
            group->spkCntEventSynSpikeEvent0[0] = 0;
        }
    }
     {
        // merged neuron init group 2
        for(unsigned int g = 0; g < 1; g++) {
            const auto *group = &mergedNeuronInitGroup2[g]; 
             {
                for (unsigned int i = 0; i < ((100u)); i++) {
                    float initVal;
                    initVal = (0.000000000e+00f);
                    group->V[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((100u)); i++) {
                    int32_t initVal;
                    initVal = (0.000000000e+00f);
                    group->RingWriteOffset[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((100u)); i++) {
                    int32_t initVal;
                    initVal = (4.990000000e+02f);
                    group->RingReadOffset[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((100u)); i++) {
                    int32_t initVal;
                    initVal = (4.990000000e+02f);
                    group->RingWriteStartOffset[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((100u)); i++) {
                    int32_t initVal;
                    initVal = (4.990000000e+02f);
                    group->RingReadEndOffset[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((100u)); i++) {
                    uint8_t initVal;
                    initVal = (0.000000000e+00f);
                    group->BackSpike[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((100u)); i++) {
                    float initVal;
                    initVal = (0.000000000e+00f);
                    group->LambdaV[i] = initVal;
                }
            }
             {
                for (unsigned int i = 0; i < ((100u)); i++) {
                    float initVal;
                    initVal = (0.000000000e+00f);
                    group->LambdaI[i] = initVal;
                }
            }
            for (unsigned int i = 0; i < ((100u)); i++) {
                group->spkSynSpike0[i] = 0;
            }
            group->spkCntSynSpike0[0] = 0;
            for (unsigned int i = 0; i < ((100u)); i++) {
                group->spkEventSynSpikeEvent0[i] = 0;
            }
            group->spkCntEventSynSpikeEvent0[0] = 0;
            for (unsigned int i = 0; i < ((100u)); i++) {
                group->outPostInSyn0[i] = 0.000000000e+00f;
            }
            for (unsigned int i = 0; i < ((100u)); i++) {
                group->outPreOutSyn0[i] = 0.000000000e+00f;
            }
        }
    }
    // ------------------------------------------------------------------------
    // Synapse groups
     {
        // merged synapse init group 0
        for(unsigned int g = 0; g < 2; g++) {
            const auto *group = &mergedSynapseInitGroup0[g]; 
            for(unsigned int i = 0; i < group->numSrcNeurons; i++) {
                 {
                    for (unsigned int j = 0; j < group->numTrgNeurons; j++) {
                        const unsigned int idSyn = (i * group->rowStride) + j;
                        float initVal;
                        initVal = group->meang + (standardNormalDistribution(hostRNG) * group->sdg);
                        group->g[idSyn] = initVal;
                    }
                }
                 {
                    for (unsigned int j = 0; j < group->numTrgNeurons; j++) {
                        const unsigned int idSyn = (i * group->rowStride) + j;
                        float initVal;
                        initVal = (0.000000000e+00f);
                        group->Gradient[idSyn] = initVal;
                    }
                }
            }
        }
    }
    // ------------------------------------------------------------------------
    // Custom update groups
    // ------------------------------------------------------------------------
    // Custom connectivity presynaptic update groups
    // ------------------------------------------------------------------------
    // Custom connectivity postsynaptic update groups
    // ------------------------------------------------------------------------
    // Custom WU update groups
     {
        // merged custom WU update group 0
        for(unsigned int g = 0; g < 2; g++) {
            const auto *group = &mergedCustomWUUpdateInitGroup0[g]; 
            for(unsigned int i = 0; i < group->numSrcNeurons; i++) {
                 {
                    for (unsigned int j = 0; j < group->numTrgNeurons; j++) {
                        const unsigned int idSyn = (i * group->rowStride) + j;
                        float initVal;
                        initVal = (0.000000000e+00f);
                        group->M[idSyn] = initVal;
                    }
                }
                 {
                    for (unsigned int j = 0; j < group->numTrgNeurons; j++) {
                        const unsigned int idSyn = (i * group->rowStride) + j;
                        float initVal;
                        initVal = (0.000000000e+00f);
                        group->V[idSyn] = initVal;
                    }
                }
            }
        }
    }
    // ------------------------------------------------------------------------
    // Synapse sparse connectivity
}

void initializeSparse() {
    // ------------------------------------------------------------------------
    // Synapse groups with sparse connectivity
    // ------------------------------------------------------------------------
    // Custom sparse WU update groups
    // ------------------------------------------------------------------------
    // Custom connectivity update sparse init groups
}
