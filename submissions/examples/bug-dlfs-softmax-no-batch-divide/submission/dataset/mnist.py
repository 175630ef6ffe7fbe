# coding: utf-8
try:
    import urllib.request
except ImportError:
    raise ImportError('You should use Python 3.x')
import os.path
import gzip
import pickle
import os
import numpy as np

url_base = 'https://ossci-datasets.s3.amazonaws.com/mnist/'  # mirror site
key_file = {                                                 #文件字典,包括train和test所需的圖片和標簽
    'train_img':'train-images-idx3-ubyte.gz',
    'train_label':'train-labels-idx1-ubyte.gz',
    'test_img':'t10k-images-idx3-ubyte.gz',
    'test_label':'t10k-labels-idx1-ubyte.gz'
}

dataset_dir = os.path.dirname(os.path.abspath(__file__))    #當前文件絕對路徑
save_file = dataset_dir + "/mnist.pkl"                      #保存文件

train_num = 60000
test_num = 10000
img_dim = (1, 28, 28)
img_size = 784


def _download(file_name):
    file_path = dataset_dir + "/" + file_name

    if os.path.exists(file_path):
        return

    print("Downloading " + file_name + " ... ")
    urllib.request.urlretrieve(url_base + file_name, file_path)     #根據文件名從下載目錄下載,保存到dataset目錄下
    print("Done")

def download_mnist():
    for v in key_file.values():
       _download(v)

def _load_label(file_name):
    file_path = dataset_dir + "/" + file_name

    print("Converting " + file_name + " to NumPy Array ...")        #將文件轉換成numpy數組
    with gzip.open(file_path, 'rb') as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8)
    print("Done")

    return labels

def _load_img(file_name):
    file_path = dataset_dir + "/" + file_name

    print("Converting " + file_name + " to NumPy Array ...")
    with gzip.open(file_path, 'rb') as f:
            data = np.frombuffer(f.read(), np.uint8, offset=16)
    data = data.reshape(-1, img_size)
    print("Done")

    return data

def _convert_numpy():
    dataset = {}
    dataset['train_img'] =  _load_img(key_file['train_img'])
    dataset['train_label'] = _load_label(key_file['train_label'])
    dataset['test_img'] = _load_img(key_file['test_img'])
    dataset['test_label'] = _load_label(key_file['test_label'])

    return dataset

def init_mnist():
    download_mnist()
    dataset = _convert_numpy()
    print("Creating pickle file ...")
    with open(save_file, 'wb') as f:
        # Pickle the list using the highest protocol available.
        pickle.dump(dataset, f, -1)
    print("Done!")

def _change_one_hot_label(X):
    T = np.zeros((X.size, 10))      #(x.size, 10)的0矩陣,x.size為圖片的數量
    for idx, row in enumerate(T):   #idx為序號,row為一維數組
        row[X[idx]] = 1             #圖片對應的label是幾,對應的數組的第幾位就為1

    return T


def load_mnist(normalize=True, flatten=True, one_hot_label=False):
    if not os.path.exists(save_file):
        init_mnist()

    with open(save_file, 'rb') as f:
        dataset = pickle.load(f)

    if normalize:
        '''將圖像數據進行歸一化處理
        data = np.random.randint(0, 256, size=(4, 16), dtype=np.uint8)  #四張單通道照片,照片尺寸4x4
        data.astype(np.float32)
        '''
        for key in ('train_img', 'test_img'):
            #文件存儲格式為np.uint8,轉換數據類型為np.float32后進行歸一化處理,uint8除以255.0默認格式為float64,會增加內存占用
            dataset[key] = dataset[key].astype(np.float32)
            dataset[key] /= np.float32(255.0)

    if one_hot_label:
        dataset['train_label'] = _change_one_hot_label(dataset['train_label'])
        dataset['test_label'] = _change_one_hot_label(dataset['test_label'])

    if not flatten:
        '''該參數設置為False,則輸出圖像為1x28x28的三維數組;若設置為True,則輸入圖像會保存為由784個元素構成的一維數組。'''
        for key in ('train_img', 'test_img'):
            #reshape方法動態調整數組形狀時,利用-1來實現自動計算某個維度的大小,第二個1表示單通道(灰度圖),正常圖片為rgb三通道
            dataset[key] = dataset[key].reshape(-1, 1, 28, 28)

    return (dataset['train_img'], dataset['train_label']), (dataset['test_img'], dataset['test_label'])


if __name__ == '__main__':
    init_mnist()
