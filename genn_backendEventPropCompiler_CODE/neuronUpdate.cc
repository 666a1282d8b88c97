#include "definitions.h"

struct MergedNeuronUpdateGroup0
 {
    uint8_t* __restrict__ BackSpike;
    uint32_t* __restrict__ EndSpike;
    int32_t* __restrict__ RingReadEndOffset;
    int32_t* __restrict__ RingReadOffset;
    float* __restrict__ RingSpikeTime;
    int32_t* __restrict__ RingWriteOffset;
    float* __restrict__ SpikeTimes;
    uint32_t* __restrict__ StartSpike;
    uint32_t* __restrict__ recordSpk;
    uint32_t* __restrict__ spkCntEventSynSpikeEvent0;
    uint32_t* __restrict__ spkCntSynSpike0;
    uint32_t* __restrict__ spkEventSynSpikeEvent0;
    uint32_t* __restrict__ spkSynSpike0;
    
}
;
struct MergedNeuronUpdateGroup1
 {
    uint8_t* __restrict__ BackSpike;
    float* __restrict__ LambdaI;
    float* __restrict__ LambdaV;
    float* __restrict__ RingIMinusV;
    int32_t* __restrict__ RingReadEndOffset;
    int32_t* __restrict__ RingReadOffset;
    float* __restrict__ RingSpikeTime;
    int32_t* __restrict__ RingWriteOffset;
    float* __restrict__ TFirstSpike;
    float* __restrict__ TFirstSpikeBack;
    float* __restrict__ TFirstSpikeSumBack;
    float* __restrict__ TFirstSpikeTrueBack;
    float* __restrict__ V;
    uint8_t* __restrict__ YTrueBack;
    float* __restrict__ outPostInSyn0;
    uint32_t* __restrict__ recordSpk;
    
}
;
struct MergedNeuronUpdateGroup2
 {
    uint8_t* __restrict__ BackSpike;
    float* __restrict__ LambdaI;
    float* __restrict__ LambdaV;
    float* __restrict__ RingIMinusV;
    int32_t* __restrict__ RingReadEndOffset;
    int32_t* __restrict__ RingReadOffset;
    float* __restrict__ RingSpikeTime;
    int32_t* __restrict__ RingWriteOffset;
    float* __restrict__ V;
    float* __restrict__ outPostInSyn0;
    float* __restrict__ outPreOutSyn0;
    uint32_t* __restrict__ recordSpk;
    uint32_t* __restrict__ spkCntEventSynSpikeEvent0;
    uint32_t* __restrict__ spkCntSynSpike0;
    uint32_t* __restrict__ spkEventSynSpikeEvent0;
    uint32_t* __restrict__ spkSynSpike0;
    
}
;
struct MergedNeuronSpikeQueueUpdateGroup0
 {
    uint32_t* __restrict__ spkCntEventSynSpikeEvent0;
    uint32_t* __restrict__ spkCntSynSpike0;
    
}
;
static MergedNeuronUpdateGroup0 mergedNeuronUpdateGroup0[1];
void pushMergedNeuronUpdateGroup0ToDevice(unsigned int idx, uint8_t* BackSpike, uint32_t* EndSpike, int32_t* RingReadEndOffset, int32_t* RingReadOffset, float* RingSpikeTime, int32_t* RingWriteOffset, float* SpikeTimes, uint32_t* StartSpike, uint32_t* recordSpk, uint32_t* spkCntEventSynSpikeEvent0, uint32_t* spkCntSynSpike0, uint32_t* spkEventSynSpikeEvent0, uint32_t* spkSynSpike0) {
    mergedNeuronUpdateGroup0[idx].BackSpike = BackSpike;
    mergedNeuronUpdateGroup0[idx].EndSpike = EndSpike;
    mergedNeuronUpdateGroup0[idx].RingReadEndOffset = RingReadEndOffset;
    mergedNeuronUpdateGroup0[idx].RingReadOffset = RingReadOffset;
    mergedNeuronUpdateGroup0[idx].RingSpikeTime = RingSpikeTime;
    mergedNeuronUpdateGroup0[idx].RingWriteOffset = RingWriteOffset;
    mergedNeuronUpdateGroup0[idx].SpikeTimes = SpikeTimes;
    mergedNeuronUpdateGroup0[idx].StartSpike = StartSpike;
    mergedNeuronUpdateGroup0[idx].recordSpk = recordSpk;
    mergedNeuronUpdateGroup0[idx].spkCntEventSynSpikeEvent0 = spkCntEventSynSpikeEvent0;
    mergedNeuronUpdateGroup0[idx].spkCntSynSpike0 = spkCntSynSpike0;
    mergedNeuronUpdateGroup0[idx].spkEventSynSpikeEvent0 = spkEventSynSpikeEvent0;
    mergedNeuronUpdateGroup0[idx].spkSynSpike0 = spkSynSpike0;
}
static MergedNeuronUpdateGroup1 mergedNeuronUpdateGroup1[1];
void pushMergedNeuronUpdateGroup1ToDevice(unsigned int idx, uint8_t* BackSpike, float* LambdaI, float* LambdaV, float* RingIMinusV, int32_t* RingReadEndOffset, int32_t* RingReadOffset, float* RingSpikeTime, int32_t* RingWriteOffset, float* TFirstSpike, float* TFirstSpikeBack, float* TFirstSpikeSumBack, float* TFirstSpikeTrueBack, float* V, uint8_t* YTrueBack, float* outPostInSyn0, uint32_t* recordSpk) {
    mergedNeuronUpdateGroup1[idx].BackSpike = BackSpike;
    mergedNeuronUpdateGroup1[idx].LambdaI = LambdaI;
    mergedNeuronUpdateGroup1[idx].LambdaV = LambdaV;
    mergedNeuronUpdateGroup1[idx].RingIMinusV = RingIMinusV;
    mergedNeuronUpdateGroup1[idx].RingReadEndOffset = RingReadEndOffset;
    mergedNeuronUpdateGroup1[idx].RingReadOffset = RingReadOffset;
    mergedNeuronUpdateGroup1[idx].RingSpikeTime = RingSpikeTime;
    mergedNeuronUpdateGroup1[idx].RingWriteOffset = RingWriteOffset;
    mergedNeuronUpdateGroup1[idx].TFirstSpike = TFirstSpike;
    mergedNeuronUpdateGroup1[idx].TFirstSpikeBack = TFirstSpikeBack;
    mergedNeuronUpdateGroup1[idx].TFirstSpikeSumBack = TFirstSpikeSumBack;
    mergedNeuronUpdateGroup1[idx].TFirstSpikeTrueBack = TFirstSpikeTrueBack;
    mergedNeuronUpdateGroup1[idx].V = V;
    mergedNeuronUpdateGroup1[idx].YTrueBack = YTrueBack;
    mergedNeuronUpdateGroup1[idx].outPostInSyn0 = outPostInSyn0;
    mergedNeuronUpdateGroup1[idx].recordSpk = recordSpk;
}
static MergedNeuronUpdateGroup2 mergedNeuronUpdateGroup2[1];
void pushMergedNeuronUpdateGroup2ToDevice(unsigned int idx, uint8_t* BackSpike, float* LambdaI, float* LambdaV, float* RingIMinusV, int32_t* RingReadEndOffset, int32_t* RingReadOffset, float* RingSpikeTime, int32_t* RingWriteOffset, float* V, float* outPostInSyn0, float* outPreOutSyn0, uint32_t* recordSpk, uint32_t* spkCntEventSynSpikeEvent0, uint32_t* spkCntSynSpike0, uint32_t* spkEventSynSpikeEvent0, uint32_t* spkSynSpike0) {
    mergedNeuronUpdateGroup2[idx].BackSpike = BackSpike;
    mergedNeuronUpdateGroup2[idx].LambdaI = LambdaI;
    mergedNeuronUpdateGroup2[idx].LambdaV = LambdaV;
    mergedNeuronUpdateGroup2[idx].RingIMinusV = RingIMinusV;
    mergedNeuronUpdateGroup2[idx].RingReadEndOffset = RingReadEndOffset;
    mergedNeuronUpdateGroup2[idx].RingReadOffset = RingReadOffset;
    mergedNeuronUpdateGroup2[idx].RingSpikeTime = RingSpikeTime;
    mergedNeuronUpdateGroup2[idx].RingWriteOffset = RingWriteOffset;
    mergedNeuronUpdateGroup2[idx].V = V;
    mergedNeuronUpdateGroup2[idx].outPostInSyn0 = outPostInSyn0;
    mergedNeuronUpdateGroup2[idx].outPreOutSyn0 = outPreOutSyn0;
    mergedNeuronUpdateGroup2[idx].recordSpk = recordSpk;
    mergedNeuronUpdateGroup2[idx].spkCntEventSynSpikeEvent0 = spkCntEventSynSpikeEvent0;
    mergedNeuronUpdateGroup2[idx].spkCntSynSpike0 = spkCntSynSpike0;
    mergedNeuronUpdateGroup2[idx].spkEventSynSpikeEvent0 = spkEventSynSpikeEvent0;
    mergedNeuronUpdateGroup2[idx].spkSynSpike0 = spkSynSpike0;
}
static MergedNeuronSpikeQueueUpdateGroup0 mergedNeuronSpikeQueueUpdateGroup0[2];
void pushMergedNeuronSpikeQueueUpdateGroup0ToDevice(unsigned int idx, uint32_t* spkCntEventSynSpikeEvent0, uint32_t* spkCntSynSpike0) {
    mergedNeuronSpikeQueueUpdateGroup0[idx].spkCntEventSynSpikeEvent0 = spkCntEventSynSpikeEvent0;
    mergedNeuronSpikeQueueUpdateGroup0[idx].spkCntSynSpike0 = spkCntSynSpike0;
}
void pushMergedNeuronUpdate0RingSpikeTimeToDevice(unsigned int idx, float* value) {
    mergedNeuronUpdateGroup0[idx].RingSpikeTime = value;
}
void pushMergedNeuronUpdate0SpikeTimesToDevice(unsigned int idx, float* value) {
    mergedNeuronUpdateGroup0[idx].SpikeTimes = value;
}
void pushMergedNeuronUpdate1RingIMinusVToDevice(unsigned int idx, float* value) {
    mergedNeuronUpdateGroup1[idx].RingIMinusV = value;
}
void pushMergedNeuronUpdate1RingSpikeTimeToDevice(unsigned int idx, float* value) {
    mergedNeuronUpdateGroup1[idx].RingSpikeTime = value;
}
void pushMergedNeuronUpdate2RingIMinusVToDevice(unsigned int idx, float* value) {
    mergedNeuronUpdateGroup2[idx].RingIMinusV = value;
}
void pushMergedNeuronUpdate2RingSpikeTimeToDevice(unsigned int idx, float* value) {
    mergedNeuronUpdateGroup2[idx].RingSpikeTime = value;
}
void updateNeurons(float t, unsigned int recordingTimestep) {
     {
        // merged neuron spike queue update group 0
        for(unsigned int g = 0; g < 2; g++) {
            const auto *group = &mergedNeuronSpikeQueueUpdateGroup0[g]; 
             {
                // spike queue update 0
                group->spkCntSynSpike0[0] = 0;
            }
             {
                // spike event queue update 0
                group->spkCntEventSynSpikeEvent0[0] = 0;
            }
        }
    }
     {
        // merged neuron update group 0
        for(unsigned int g = 0; g < 1; g++) {
            const auto *group = &mergedNeuronUpdateGroup0[g]; 
            const unsigned int numRecordingWords = ((4u) + 31) / 32;
            std::fill_n(&group->recordSpk[recordingTimestep * numRecordingWords], numRecordingWords, 0);
            
            for(unsigned int i = 0; i < (4u); i++) {
                int32_t _lRingReadEndOffset = group->RingReadEndOffset[i];
                uint8_t _lBackSpike = group->BackSpike[i];
                int32_t _lRingWriteOffset = group->RingWriteOffset[i];
                const uint32_t _lEndSpike = group->EndSpike[i];
                int32_t _lRingReadOffset = group->RingReadOffset[i];
                uint32_t _lStartSpike = group->StartSpike[i];
                // test whether spike condition was fulfilled previously
                // calculate membrane potential
                const int32_t _ringOffset = (0 * (4u) * 500) + (i * 500);
                const float _backT = 30.0f - t - 1.000000000e-02f;
                if(_lBackSpike)
                 {
                    _lRingReadOffset--;
                    if(_lRingReadOffset < 0)
                     {
                        _lRingReadOffset = 500 - 1;
                    }
                    
                    _lBackSpike = false;
                }
                
                if(_lRingReadOffset != _lRingReadEndOffset && fabs(_backT - group->RingSpikeTime[_ringOffset + _lRingReadOffset] - 1.000000000e-02f) < 1e-3f * 1.000000000e-02f)
                 {
                    _lBackSpike = true;
                }
                
                 {
                    // spike event condition 0
                    if((_lBackSpike)) {
                         {
                            group->spkEventSynSpikeEvent0[group->spkCntEventSynSpikeEvent0[0]++] = i;
                        }
                    }
                }
                // test for and register a true spike
                if ((_lStartSpike != _lEndSpike && t >= group->SpikeTimes[_lStartSpike])) {
                    group->recordSpk[(recordingTimestep * numRecordingWords) + (i / 32)] |= (1 << (i % 32));
                     {
                        group->spkSynSpike0[group->spkCntSynSpike0[0]++] = i;
                    }
                    // spike reset code
                    if(_lRingWriteOffset != _lRingReadEndOffset)
                     {
                        group->RingSpikeTime[_ringOffset + _lRingWriteOffset] = t;
                        _lRingWriteOffset++;
                        if(_lRingWriteOffset >= 500)
                         {
                            _lRingWriteOffset = 0;
                        }
                        
                    }
                    
                    _lStartSpike++;
                }
                group->RingReadEndOffset[i] = _lRingReadEndOffset;
                group->BackSpike[i] = _lBackSpike;
                group->RingWriteOffset[i] = _lRingWriteOffset;
                group->RingReadOffset[i] = _lRingReadOffset;
                group->StartSpike[i] = _lStartSpike;
            }
        }
    }
     {
        // merged neuron update group 1
        for(unsigned int g = 0; g < 1; g++) {
            const auto *group = &mergedNeuronUpdateGroup1[g]; 
            const unsigned int numRecordingWords = ((3u) + 31) / 32;
            std::fill_n(&group->recordSpk[recordingTimestep * numRecordingWords], numRecordingWords, 0);
            
            for(unsigned int i = 0; i < (3u); i++) {
                float Isyn = 0;
                const float _lTFirstSpikeTrueBack = group->TFirstSpikeTrueBack[0];
                float _lV = group->V[i];
                int32_t _lRingWriteOffset = group->RingWriteOffset[i];
                float _lTFirstSpike = group->TFirstSpike[i];
                const uint8_t _lYTrueBack = group->YTrueBack[0];
                float _lLambdaI = group->LambdaI[i];
                uint8_t _lBackSpike = group->BackSpike[i];
                float _lLambdaV = group->LambdaV[i];
                int32_t _lRingReadEndOffset = group->RingReadEndOffset[i];
                const float _lTFirstSpikeBack = group->TFirstSpikeBack[i];
                int32_t _lRingReadOffset = group->RingReadOffset[i];
                const float _lTFirstSpikeSumBack = group->TFirstSpikeSumBack[0];
                 {
                    // postsynaptic model 0
                    float linSyn = group->outPostInSyn0[i];
                    Isyn += linSyn * (9.990006663e-01f);
                    linSyn *= (9.980019987e-01f);
                    group->outPostInSyn0[i] = linSyn;
                }
                // test whether spike condition was fulfilled previously
                // calculate membrane potential
                const int32_t _ringOffset = (0 * (3u) * 500) + (i * 500);
                const float _backT = 30.0f - t - 1.000000000e-02f;
                _lLambdaI = ((1.333333333e+00f) * _lLambdaV * ((9.995001250e-01f) - (9.980019987e-01f))) + (_lLambdaI * (9.980019987e-01f));
                _lLambdaV *= (9.995001250e-01f);
                if(_lBackSpike)
                 {
                    if(fabs(_backT + _lTFirstSpikeBack) < 1e-3f * 1.000000000e-02f)
                     {
                        const float _iMinusVRecip = 1.0f / group->RingIMinusV[_ringOffset + _lRingReadOffset];
                        if(i == _lYTrueBack)
                         {
                            _lLambdaV += (_lTFirstSpikeSumBack - ((3u) * _lTFirstSpikeTrueBack) + (((3u) - 1) * (1.000000000e+00f))) * _iMinusVRecip;
                        }
                        else
                         {
                            _lLambdaV += ((-_lTFirstSpikeBack + _lTFirstSpikeTrueBack) - (1.000000000e+00f)) * _iMinusVRecip;
                        }
                        
                    }
                    
                    _lRingReadOffset--;
                    if(_lRingReadOffset < 0)
                     {
                        _lRingReadOffset = 500 - 1;
                    }
                    
                    _lBackSpike = false;
                }
                
                if(_lRingReadOffset != _lRingReadEndOffset && fabs(_backT - group->RingSpikeTime[_ringOffset + _lRingReadOffset] - 1.000000000e-02f) < 1e-3f * 1.000000000e-02f)
                 {
                    _lBackSpike = true;
                }
                
                _lV = ((9.995001250e-01f) * _lV) + ((1.0f - (9.995001250e-01f)) * Isyn);
                // test for and register a true spike
                if ((_lV >= (1.000000000e+00f))) {
                    group->recordSpk[(recordingTimestep * numRecordingWords) + (i / 32)] |= (1 << (i % 32));
                    // spike reset code
                    if(_lRingWriteOffset != _lRingReadEndOffset)
                     {
                        group->RingSpikeTime[_ringOffset + _lRingWriteOffset] = t;
                        group->RingIMinusV[_ringOffset + _lRingWriteOffset] = (Isyn * (1.001000333e+00f)) - _lV;
                        _lRingWriteOffset++;
                        if(_lRingWriteOffset >= 500)
                         {
                            _lRingWriteOffset = 0;
                        }
                        
                    }
                    
                    _lV = (0.000000000e+00f);
                    _lTFirstSpike = fmax(-t, _lTFirstSpike);
                }
                group->V[i] = _lV;
                group->RingWriteOffset[i] = _lRingWriteOffset;
                group->TFirstSpike[i] = _lTFirstSpike;
                group->LambdaI[i] = _lLambdaI;
                group->BackSpike[i] = _lBackSpike;
                group->LambdaV[i] = _lLambdaV;
                group->RingReadEndOffset[i] = _lRingReadEndOffset;
                group->RingReadOffset[i] = _lRingReadOffset;
            }
        }
    }
     {
        // merged neuron update group 2
        for(unsigned int g = 0; g < 1; g++) {
            const auto *group = &mergedNeuronUpdateGroup2[g]; 
            const unsigned int numRecordingWords = ((100u) + 31) / 32;
            std::fill_n(&group->recordSpk[recordingTimestep * numRecordingWords], numRecordingWords, 0);
            
            for(unsigned int i = 0; i < (100u); i++) {
                float Isyn = 0;
                float _RevISyn = 0.000000000e+00f;
                float _lLambdaV = group->LambdaV[i];
                int32_t _lRingReadEndOffset = group->RingReadEndOffset[i];
                float _lLambdaI = group->LambdaI[i];
                uint8_t _lBackSpike = group->BackSpike[i];
                int32_t _lRingReadOffset = group->RingReadOffset[i];
                int32_t _lRingWriteOffset = group->RingWriteOffset[i];
                float _lV = group->V[i];
                 {
                    // postsynaptic model 0
                    float linSyn = group->outPostInSyn0[i];
                    Isyn += linSyn * (9.990006663e-01f);
                    linSyn *= (9.980019987e-01f);
                    group->outPostInSyn0[i] = linSyn;
                }
                 {
                    _RevISyn += group->outPreOutSyn0[i];
                    group->outPreOutSyn0[i] = 0.000000000e+00f;
                }
                // test whether spike condition was fulfilled previously
                // calculate membrane potential
                const int32_t _ringOffset = (0 * (100u) * 500) + (i * 500);
                const float _backT = 30.0f - t - 1.000000000e-02f;
                _lLambdaI = ((-1.333333333e+00f) * _lLambdaV * ((9.980019987e-01f) - (9.995001250e-01f))) + (_lLambdaI * (9.980019987e-01f));
                _lLambdaV *= (9.995001250e-01f);
                if(_lBackSpike)
                 {
                    _lLambdaV += (1.0f / group->RingIMinusV[_ringOffset + _lRingReadOffset]) * ((1.000000000e+00f) * _lLambdaV + _RevISyn);
                    _lRingReadOffset--;
                    if(_lRingReadOffset < 0)
                     {
                        _lRingReadOffset = 500 - 1;
                    }
                    
                    _lBackSpike = false;
                }
                
                if(_lRingReadOffset != _lRingReadEndOffset && fabs(_backT - group->RingSpikeTime[_ringOffset + _lRingReadOffset] - 1.000000000e-02f) < 1e-3f * 1.000000000e-02f)
                 {
                    _lBackSpike = true;
                }
                
                _lV = ((9.995001250e-01f) * _lV) + ((1.0f - (9.995001250e-01f)) * Isyn);
                 {
                    // spike event condition 0
                    if((_lBackSpike)) {
                         {
                            group->spkEventSynSpikeEvent0[group->spkCntEventSynSpikeEvent0[0]++] = i;
                        }
                    }
                }
                // test for and register a true spike
                if ((_lV >= (1.000000000e+00f))) {
                    group->recordSpk[(recordingTimestep * numRecordingWords) + (i / 32)] |= (1 << (i % 32));
                     {
                        group->spkSynSpike0[group->spkCntSynSpike0[0]++] = i;
                    }
                    // spike reset code
                    if(_lRingWriteOffset != _lRingReadEndOffset)
                     {
                        group->RingSpikeTime[_ringOffset + _lRingWriteOffset] = t;
                        group->RingIMinusV[_ringOffset + _lRingWriteOffset] = (Isyn * (1.001000333e+00f)) - _lV;
                        _lRingWriteOffset++;
                        if(_lRingWriteOffset >= 500)
                         {
                            _lRingWriteOffset = 0;
                        }
                        
                    }
                    
                    _lV = (0.000000000e+00f);
                }
                group->LambdaV[i] = _lLambdaV;
                group->RingReadEndOffset[i] = _lRingReadEndOffset;
                group->LambdaI[i] = _lLambdaI;
                group->BackSpike[i] = _lBackSpike;
                group->RingReadOffset[i] = _lRingReadOffset;
                group->RingWriteOffset[i] = _lRingWriteOffset;
                group->V[i] = _lV;
            }
        }
    }
}
